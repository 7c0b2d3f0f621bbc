data:
  v: real[3]
mu ~ Normal(0, 1)
y = v[mu]
