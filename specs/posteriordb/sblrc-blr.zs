# Data: ../shared/data/posteriordb/sblrc-blr/data.json (posteriordb). Bayesian linear regression, Stan's target += form.
model blr

data:
  N: int in [0, inf)
  D: int in [0, inf)
  X: real[N, D]
  y: real[N]

beta ~ Normal(0, 10), event=[D]
sigma: real in (0, inf) ~ Normal(0, 10)
y ~ Normal(X @ beta, sigma), event=[N]
