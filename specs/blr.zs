# Data: ../shared/data/posteriordb/sblrc-blr/data.json (Bayesian linear regression, posteriordb sblrc-blr); also specs/data/regression.json (synthetic, shipped).
# Engine: nuts.
model blr

data:
  N: int in [0, inf)
  D: int in [0, inf)
  X: real[N, D]
  y: real[N]

beta ~ Normal(0, 10), event=[D]
sigma: real in (0, inf) ~ Normal(0, 10)
plate n in N:
  y[n] ~ Normal(X[n] @ beta, sigma)

generated:
  plate n in N:
    y_rep[n] ~ Normal(X[n] @ beta, sigma)   # the posterior predictive, for zsdsl plot --kind ppc
