data:
  v: real[3]
mu ~ Normal(v, 1), event=[4]
