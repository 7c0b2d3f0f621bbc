data:
  x: real[N, 3]
plate n in N:
  h = x[n] * 2
w = sum(h)
