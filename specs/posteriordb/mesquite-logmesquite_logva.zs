# Data: ../shared/data/posteriordb/mesquite-logmesquite_logva/data.json (posteriordb).
model logmesquite_logva

data:
  N: int in [0, inf)
  weight: real[N]
  diam1: real[N]
  diam2: real[N]
  canopy_height: real[N]
  group: real[N]

log_weight = log(weight)           # transformed data
log_canopy_volume = log(diam1 * diam2 * canopy_height)
log_canopy_area = log(diam1 * diam2)
beta ~ Flat(), event=[4]
sigma: real in (0, inf) ~ Flat()
log_weight ~ Normal(beta[0] + beta[1] * log_canopy_volume + beta[2] * log_canopy_area + beta[3] * group,
                    sigma), event=[N]
