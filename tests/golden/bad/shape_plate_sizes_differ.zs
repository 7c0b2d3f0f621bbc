data:
  x: real[N]
plate n in N:
  x[n] ~ Normal(0, 1)
plate n in 3:
  z[n] ~ Normal(0, 1)
