# Data: ../shared/data/posteriordb/gp_pois_regr-gp_pois_regr/data.json (posteriordb).
model gp_pois_regr

data:
  N: int in [1, inf)
  x: real[N]
  k: int[N] in [0, inf)

rho: real in (0, inf) ~ Gamma(25, 4)
alpha: real in (0, inf) ~ Normal(0, 2)
f_tilde ~ Normal(0, 1), event=[N]
f = cholesky(exp_quad_kernel(x, x, alpha, rho) + 1e-10 * eye(N)) @ f_tilde
k ~ Poisson(log_rate=f), event=[N]
