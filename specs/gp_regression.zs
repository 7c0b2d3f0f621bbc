# Data: synthetic 1-D regression (N points x, y), or a UCI column.
# Engine: nuts. Exact GP regression: the latent function marginalised into a MultivariateNormal.
model gp_regression

data:
  N: int in [1, inf)
  x: real[N]
  y: real[N]

rho ~ InverseGamma(5, 5)
alpha ~ HalfNormal(1)
sigma ~ HalfNormal(1)
K = exp_quad_kernel(x, x, alpha, rho) + (square(sigma) + 1e-6) * eye(N)
y ~ MultivariateNormal(zeros(N), scale_tril=cholesky(K))
