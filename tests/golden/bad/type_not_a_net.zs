nets:
  f = Dense(2 -> 3)
