x ~ Normal(0, 1), event=[3]
factor sum(exp(x, dim=0))
