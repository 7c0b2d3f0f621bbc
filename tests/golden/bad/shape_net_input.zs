data:
  x: real[N, 784]
nets:
  f = MLP(700 -> 10)
plate n in N:
  z[n] = f(x[n])
