y = Normal(0, 1) + 1
