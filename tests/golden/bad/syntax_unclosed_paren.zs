mu ~ Normal(0, 1
sigma ~ HalfNormal(1)
