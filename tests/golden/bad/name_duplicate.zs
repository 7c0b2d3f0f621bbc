mu ~ Normal(0, 1)
mu ~ Normal(0, 2)
