a ~ Normal(0, 1), event=[3]
b ~ Normal(0, 1), event=[4]
c = a + b
