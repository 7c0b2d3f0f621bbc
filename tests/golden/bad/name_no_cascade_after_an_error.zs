x ~ Normal(0, 1), event=[3]
b = exp(x, 2)
c = b + 1
plate i in 3:
  d[i] ~ Normal(c[i], 1)
factor sum(d) + sum(c)
