mu ~ Normal(0, 1)
tau ~ HalfNormal(1)
guide q:
  mu ~ Normal(0, 1)
