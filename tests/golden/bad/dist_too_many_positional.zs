mu ~ Normal(0, 1, 2)
