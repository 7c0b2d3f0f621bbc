mu ~ Normal(0, 1)
y = (mu > 0) + 1
