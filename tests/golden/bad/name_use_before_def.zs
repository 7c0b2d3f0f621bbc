y = mu * 2
mu ~ Normal(0, 1)
