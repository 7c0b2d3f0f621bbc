k: real ~ Poisson(3)
