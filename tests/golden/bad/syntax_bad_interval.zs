data:
  x: real in 0, 1
