mu ~ Normal(0, 1)
y = mu + nu
