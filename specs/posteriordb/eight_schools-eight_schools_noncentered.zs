# Data: ../shared/data/posteriordb/eight_schools-eight_schools_noncentered/data.json (posteriordb).
model eight_schools_noncentered

data:
  J: int in [0, inf)
  y: real[J]
  sigma: real[J] in (0, inf)

mu ~ Normal(0, 5)
tau: real in (0, inf) ~ Cauchy(0, 5)
theta_trans ~ Normal(0, 1), event=[J]
theta = mu + tau * theta_trans
y ~ Normal(theta, sigma), event=[J]
