mu ~ Normal(0, 1), enumerate
