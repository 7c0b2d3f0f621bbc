# Data: ../shared/data/posteriordb/eight_schools-eight_schools_noncentered/data.json (also specs/data/eight_schools.json)
# Engine: nuts. The noncentered parameterisation of Rubin's eight schools (posteriordb's).
model eight_schools_noncentered

data:
  J: int in [0, inf)
  y: real[J]
  sigma: real[J] in (0, inf)

mu ~ Normal(0, 5)
tau ~ HalfCauchy(5)
plate j in J:
  theta_trans[j] ~ Normal(0, 1)
  theta[j] = mu + tau * theta_trans[j]    # deterministic: reported with the draws
  y[j] ~ Normal(theta[j], sigma[j])

generated:                                # run for every posterior draw (see docs/language.md)
  plate j in J:
    y_rep[j] ~ Normal(theta[j], sigma[j])  # posterior predictive replicate: posterior_predictive group
  effect_0_minus_1 = theta[0] - theta[1]  # a derived contrast: reported with the draws
