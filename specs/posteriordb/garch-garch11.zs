# Data: ../shared/data/posteriordb/garch-garch11/data.json (posteriordb).
# Stan's upper=(1 - alpha1) bound on beta1 is written as beta1 = (1 - alpha1) * beta1_raw with
# beta1_raw in (0, 1), plus the log-Jacobian log(1 - alpha1): beta1 is then flat on (0, 1 - alpha1)
# given alpha1, the same posterior. The variance recursion
# sigma[t]^2 = alpha0 + alpha1 * (y[t-1] - mu)^2 + beta1 * sigma[t-1]^2 is a linear recurrence.
model garch11

data:
  T: int in [0, inf)
  y: real[T]
  sigma1: real in (0, inf)

mu ~ Flat()
alpha0: real in (0, inf) ~ Flat()
alpha1: real in (0, 1) ~ Flat()
beta1_raw: real in (0, 1) ~ Flat()
beta1 = (1 - alpha1) * beta1_raw
factor log(1 - alpha1)
sigma = sqrt(recurrence(beta1, alpha0 + alpha1 * (y - mu) ^ 2, sigma1 ^ 2))
y ~ Normal(mu, sigma), event=[T]
