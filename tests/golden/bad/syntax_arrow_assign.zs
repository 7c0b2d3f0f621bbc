x <- Normal(0, 1)
