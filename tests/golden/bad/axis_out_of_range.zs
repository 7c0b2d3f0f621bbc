x ~ Normal(0, 1), event=[3, 4]
factor sum(sum(x, dim=2))
