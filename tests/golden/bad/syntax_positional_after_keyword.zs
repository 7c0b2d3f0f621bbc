mu ~ Normal(loc=0, 1)
