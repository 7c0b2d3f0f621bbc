data:
    N: int
  y: real[N]
