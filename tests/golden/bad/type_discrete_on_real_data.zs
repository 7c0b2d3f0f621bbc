data:
  N: int
  y: real[N]
lam ~ Gamma(2, 1)
plate n in N:
  y[n] ~ Poisson(lam)
