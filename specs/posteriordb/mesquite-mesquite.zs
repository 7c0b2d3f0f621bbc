# Data: ../shared/data/posteriordb/mesquite-mesquite/data.json (posteriordb).
model mesquite

data:
  N: int in [0, inf)
  weight: real[N]
  diam1: real[N]
  diam2: real[N]
  canopy_height: real[N]
  total_height: real[N]
  density: real[N]
  group: real[N]

beta ~ Flat(), event=[7]
sigma: real in (0, inf) ~ Flat()
weight ~ Normal(beta[0] + beta[1] * diam1 + beta[2] * diam2 + beta[3] * canopy_height + beta[4] * total_height
                + beta[5] * density + beta[6] * group, sigma), event=[N]
