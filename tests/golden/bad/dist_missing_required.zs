mu ~ Normal(0)
