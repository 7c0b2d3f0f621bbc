# Data: ../shared/data/posteriordb/gp_pois_regr-gp_pois_regr/data.json
# Engine: nuts. A latent GP with a Poisson log link (posteriordb gp_pois_regr).
model gp_pois_regr

data:
  N: int in [1, inf)
  x: real[N]
  k: int[N] in [0, inf)

rho ~ Gamma(25, 4)
alpha: real in (0, inf) ~ Normal(0, 2)
f_tilde ~ Normal(0, 1), event=[N]
L_cov = cholesky(exp_quad_kernel(x, x, alpha, rho) + 1e-10 * eye(N))
f = L_cov @ f_tilde
k ~ Poisson(log_rate=f), event=[N]
