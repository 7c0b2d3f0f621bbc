nets:
  f = MLP(784 -> )
