# Data: ../shared/data/posteriordb/earnings-logearn_interaction/data.json (posteriordb).
model logearn_interaction

data:
  N: int in [0, inf)
  earn: real[N]
  height: real[N]
  male: real[N]

log_earn = log(earn)               # transformed data
inter = height * male              # interaction
beta ~ Flat(), event=[4]
sigma: real in (0, inf) ~ Flat()
log_earn ~ Normal(beta[0] + beta[1] * height + beta[2] * male + beta[3] * inter, sigma), event=[N]
