# Data: ../shared/data/posteriordb/low_dim_gauss_mix-low_dim_gauss_mix/data.json
# Engine: nuts with enumeration of z (the same posterior as gmm.zs). Indexing is 0-based.
model gmm_enum

data:
  N: int in [0, inf)
  y: real[N]

mu: ordered[2] ~ Normal(0, 2)
sigma: real[2] in (0, inf) ~ Normal(0, 2)
theta: real in (0, 1) ~ Beta(5, 5)
plate n in N:
  z[n] ~ Categorical(probs=stack(theta, 1 - theta)), enumerate
  y[n] ~ Normal(mu[z[n]], sigma[z[n]])
