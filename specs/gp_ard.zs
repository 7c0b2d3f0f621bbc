# Data: ../shared/data/uci/<name>/ as PATH:train_K (X: [N, D] and y: [N], standardised), with the test
# split's inputs as X_test: [T, D] (benchmarks/gp_uci.py builds both). Engines: nuts, map.
# Exact GP regression (Rasmussen & Williams 2006, ch. 2 and 5): f marginalised into a MultivariateNormal,
# an ARD squared-exponential kernel; the hyperparameters sampled (nuts) or at their posterior mode (map).
model gp_ard

data:
  X: real[N, D]
  y: real[N]
  X_test: real[T, D]

amplitude ~ HalfNormal(1)
lengthscale ~ LogNormal(0, 1), event=[D]
sigma ~ HalfNormal(1)
K = ard_kernel(X, X, amplitude, lengthscale) + (square(sigma) + 1e-6) * eye(N)
y ~ MultivariateNormal(zeros(N), scale_tril=cholesky(K))

generated:
  # the predictive at the test inputs: a 6th (5th) argument, the noise variance, makes the SVGP
  # conditionals the exact GP's k_t (K + σ²I)⁻¹ y and amplitude² − k_t (K + σ²I)⁻¹ k_t
  plate t in T:
    f_test[t] = gp_conditional_mean(X_test[t], X, y, amplitude, lengthscale, square(sigma) + 1e-6)
    sd_test[t] = sqrt(gp_conditional_var(X_test[t], X, amplitude, lengthscale, square(sigma) + 1e-6)
                      + square(sigma))
    y_test[t] ~ Normal(f_test[t], sd_test[t])
