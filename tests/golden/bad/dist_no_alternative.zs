data:
  y: int[3] in {0, 1}
y ~ Bernoulli(), event=[3]
