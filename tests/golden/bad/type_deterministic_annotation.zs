mu ~ Normal(0, 1)
y: real = mu
