data:
  X: real[5, 3]
w ~ Normal(0, 1), event=[4]
y = X @ w
