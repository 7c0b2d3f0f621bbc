# Data: ../shared/data/posteriordb/radon_mn-radon_hierarchical_intercept_noncentered/data.json (posteriordb;
# no reference draws). county_idx is 1-based in the data, hence the - 1.
model radon_hierarchical_intercept_noncentered

data:
  J: int in [0, inf)
  N: int in [0, inf)
  county_idx: int[N] in [1, J]
  log_uppm: real[N]
  floor_measure: real[N]
  log_radon: real[N]

alpha_raw ~ Normal(0, 1), event=[J]
beta ~ Normal(0, 10), event=[2]
mu_alpha ~ Normal(0, 10)
sigma_alpha: real in (0, inf) ~ Normal(0, 1)
sigma_y: real in (0, inf) ~ Normal(0, 1)
alpha = mu_alpha + sigma_alpha * alpha_raw
plate n in N:
  log_radon[n] ~ Normal(alpha[county_idx[n] - 1] + log_uppm[n] * beta[0] + floor_measure[n] * beta[1], sigma_y)
