data:
  N: int
plate n in N:
  z ~ Normal(0, 1)
  w[m] ~ Normal(0, 1)
