x ~ Normal(0, 1), event=[3]
factor sum(x, axis=0)
