data:
  N: int
  y: real[N]
plate n in N:
  y[n] ~ Normal(0, 1)
z = n + 1
