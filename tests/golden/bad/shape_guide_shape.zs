mu ~ Normal(0, 1), event=[3]
guide q:
  mu ~ Normal(0, 1), event=[4]
