# Data: specs/data/arma11.json (simulated: mu 0.5, phi 0.6, theta 0.3, sigma 1; T = 100). Engine: nuts.
# ARMA(1,1) as in the Stan User's Guide: the one-step error recursion is a scan carrying the last error.
model arma11

data:
  y: real[T]

mu: real ~ Normal(0, 10)
phi: real ~ Normal(0, 2)
theta: real ~ Normal(0, 2)
sigma: real in (0, inf) ~ HalfCauchy(2.5)
err1 = y[0] - (mu + phi * mu)                  # Stan's err[1]: nu[1] = mu + phi * mu
scan t in range(1, T), err = err1:             # Stan's for (t in 2:T), 0-based here
    nu = mu + phi * y[t - 1] + theta * err     # a local: this step's prediction
    err = y[t] - nu                            # the carry's next value
    errs[t] = err                              # an output: errs[0] is the step t = 1
factor logpdf(Normal(0, sigma), err1)
factor logpdf(Normal(0, sigma), errs)
