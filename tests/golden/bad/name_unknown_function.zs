mu ~ Normal(0, 1)
y = expp(mu)
