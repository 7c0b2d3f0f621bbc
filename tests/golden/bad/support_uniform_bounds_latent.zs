a ~ Normal(0, 1)
b ~ Uniform(a, 2)
