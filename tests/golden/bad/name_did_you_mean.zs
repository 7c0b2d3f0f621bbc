sigma ~ HalfNormal(1)
mu ~ Normal(0, sigmaa)
