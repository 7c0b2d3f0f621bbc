data:
  x ~ Normal(0, 1)
