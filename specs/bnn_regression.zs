# Data: ../shared/data/uci/<name>/ as PATH:train_K (e.g. uci/bostonHousing:train_0; 20 splits), X and y standardised.
# Engines: sgvb with --guide auto-normal --init-scale 1e-5 (see benchmarks/vi_uci_bnn.py), sghmc. A [D, 50, 1] network whose weights are latents.
model bnn_regression

data:
  X: real[N, D]
  y: real[N]

nets:
  f = MLP(D -> 50 -> 1, act=relu, prior=Normal(0, 1))   # weights are latents with this prior

log_prec ~ Gamma(6, 6)
plate n in N, subsample=32:
  y[n] ~ Normal(f(X[n])[0], exp(-0.5 * log_prec))
