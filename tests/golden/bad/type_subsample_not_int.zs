data:
  y: real[N]
plate n in N, subsample=0.5:
  y[n] ~ Normal(0, 1)
