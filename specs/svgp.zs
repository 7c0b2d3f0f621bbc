# Data: ../shared/data/uci/bostonHousing/ as PATH:train_K (X: [N, D] and y: [N], standardised).
# Engine: sgvb with the guide q (Hensman et al. 2013's sparse variational GP).
model svgp

data:
  X: real[N, D]
  y: real[N]

dims:
  M = 50

params:
  Z: real[M, D] = X[:M]          # inducing inputs start at the first M data points
  lengthscale: real[D] in (0, inf) = 1.0
  amplitude: real in (0, inf) = 1.0
  noise: real in (0, inf) = 0.1

u ~ MultivariateNormal(zeros(M), scale_tril=cholesky(ard_kernel(Z, Z, amplitude, lengthscale) + 1e-6 * eye(M)))
plate n in N, subsample=200:
  y[n] ~ Normal(gp_conditional_mean(X[n], Z, u, amplitude, lengthscale),
                sqrt(gp_conditional_var(X[n], Z, amplitude, lengthscale) + noise))

guide q:
  params:
    q_mean: real[M]
    q_scale: cholesky[M] = eye(M)
  u ~ MultivariateNormal(q_mean, scale_tril=q_scale)
