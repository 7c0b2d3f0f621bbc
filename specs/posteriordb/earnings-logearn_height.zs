# Data: ../shared/data/posteriordb/earnings-logearn_height/data.json (posteriordb).
model logearn_height

data:
  N: int in [0, inf)
  earn: real[N]
  height: real[N]

log_earn = log(earn)               # transformed data: observed below
beta ~ Flat(), event=[2]
sigma: real in (0, inf) ~ Flat()
log_earn ~ Normal(beta[0] + beta[1] * height, sigma), event=[N]
