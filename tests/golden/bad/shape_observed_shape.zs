data:
  x: real[N, 784]
plate n in N:
  x[n] ~ Normal(0, 1), event=[780]
