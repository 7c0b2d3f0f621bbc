# Data: specs/data/local_level.json (simulated random-walk level, sd 0.3, observed with noise sd 0.5;
# T = 60). Engine: nuts. A local-level state-space model, its states integrated out by the Kalman filter:
# a scan carrying the predicted level's mean m and variance p, adding each observation's one-step
# predictive density (the prediction-error decomposition of log p(y)).
model local_level

data:
  y: real[T]

sigma_level: real in (0, inf) ~ HalfNormal(1)
sigma_obs: real in (0, inf) ~ HalfNormal(1)
m0: real ~ Normal(0, 10)                        # level[0] ~ Normal(m0, 1)
scan t in range(T), m = m0, p = 1.0:
    f = p + sigma_obs ^ 2                       # the variance of y[t] given y[:t]
    factor logpdf(Normal(m, sqrt(f)), y[t])
    gain = p / f
    filtered[t] = m + gain * (y[t] - m)         # E[level[t] | y[:t+1]], reported with the draws
    m = filtered[t]
    p = p * (1 - gain) + sigma_level ^ 2        # predicted one step ahead
