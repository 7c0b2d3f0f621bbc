mu ~ Normal(0, 1)
guide q:
  nu ~ Normal(0, 1)
