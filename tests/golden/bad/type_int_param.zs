params:
  k: int
