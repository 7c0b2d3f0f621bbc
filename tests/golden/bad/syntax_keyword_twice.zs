mu ~ Normal(loc=0, loc=1)
