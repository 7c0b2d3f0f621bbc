mu ~ Normal(0, -1)
