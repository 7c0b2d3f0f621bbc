# Data: ../shared/data/posteriordb/radon_mn-radon_pooled/data.json (posteriordb; no reference draws).
model radon_pooled

data:
  N: int in [0, inf)
  floor_measure: real[N]
  log_radon: real[N]

alpha ~ Normal(0, 10)
beta ~ Normal(0, 10)
sigma_y: real in (0, inf) ~ Normal(0, 1)
plate n in N:
  log_radon[n] ~ Normal(alpha + beta * floor_measure[n], sigma_y)
