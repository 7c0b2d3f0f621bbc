x ~ Normal(0, 1)
factor sum(x, dim=0)
