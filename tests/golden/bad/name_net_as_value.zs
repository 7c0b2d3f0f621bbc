nets:
  f = Linear(2 -> 3)
y = f + 1
