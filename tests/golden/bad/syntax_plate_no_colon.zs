data:
  N: int
plate n in N
  z[n] ~ Normal(0, 1)
