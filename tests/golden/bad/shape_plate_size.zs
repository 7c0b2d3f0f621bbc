data:
  x: real[M]
  y: real[N]
plate n in N:
  y[n] ~ Normal(x[n], 1)
