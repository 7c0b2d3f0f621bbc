# Data: synthetic (N=5000, D=25 in the benchmarks), or any N, D, X, y in {0, 1}.
# Engines: nuts, sgvb (the plate can be subsampled).
model logistic_regression

data:
  N: int in [0, inf)
  D: int in [0, inf)
  X: real[N, D]
  y: int[N] in {0, 1}

w ~ Normal(0, 1), event=[D]
b ~ Normal(0, 1)
plate n in N:
  y[n] ~ Bernoulli(logits=X[n] @ w + b)
