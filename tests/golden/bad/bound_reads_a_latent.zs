data:
  T: int in [0, inf)
  y: real[T]
  sigma1: real in (0, inf)

mu ~ Flat()
alpha0: real in (0, inf) ~ Flat()
alpha1: real in (0, 1) ~ Flat()
beta1: real in (0, 1 - alpha1) ~ Flat()
