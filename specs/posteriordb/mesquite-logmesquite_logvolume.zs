# Data: ../shared/data/posteriordb/mesquite-logmesquite_logvolume/data.json (posteriordb).
model logmesquite_logvolume

data:
  N: int in [0, inf)
  weight: real[N]
  diam1: real[N]
  diam2: real[N]
  canopy_height: real[N]

log_weight = log(weight)
log_canopy_volume = log(diam1 * diam2 * canopy_height)
beta ~ Flat(), event=[2]
sigma: real in (0, inf) ~ Flat()
log_weight ~ Normal(beta[0] + beta[1] * log_canopy_volume, sigma), event=[N]
