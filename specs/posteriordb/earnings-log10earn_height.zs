# Data: ../shared/data/posteriordb/earnings-log10earn_height/data.json (posteriordb).
model log10earn_height

data:
  N: int in [0, inf)
  earn: real[N]
  height: real[N]

log10_earn = log10(earn)           # transformed data: observed below
beta ~ Flat(), event=[2]
sigma: real in (0, inf) ~ Flat()
log10_earn ~ Normal(beta[0] + beta[1] * height, sigma), event=[N]
