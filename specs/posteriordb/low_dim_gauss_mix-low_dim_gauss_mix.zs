# Data: ../shared/data/posteriordb/low_dim_gauss_mix-low_dim_gauss_mix/data.json (posteriordb).
model low_dim_gauss_mix

data:
  N: int in [0, inf)
  y: real[N]

mu: ordered[2] ~ Normal(0, 2)
sigma: real[2] in (0, inf) ~ Normal(0, 2)
theta: real in (0, 1) ~ Beta(5, 5)
plate n in N:
  factor log_mix(theta, logpdf(Normal(mu[0], sigma[0]), y[n]), logpdf(Normal(mu[1], sigma[1]), y[n]))
