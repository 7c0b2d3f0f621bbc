# Data: ../shared/data/posteriordb/arK-arK/data.json (posteriordb). An AR(K) model: each y[t] regressed on
# its K predecessors, gathered per time point with a computed index (0-based).
model arK

data:
  K: int in [0, inf)
  T: int in [0, inf)
  y: real[T]

alpha ~ Normal(0, 10)
beta ~ Normal(0, 10), event=[K]
sigma: real in (0, inf) ~ Cauchy(0, 2.5)
y_next = y[K:]                               # transformed data: the modelled points
plate t in T - K:
  mu[t] = alpha + beta @ y[t + K - 1 - arange(K)]   # y[t+K-1], ..., y[t]: lags 1..K
  y_next[t] ~ Normal(mu[t], sigma)
