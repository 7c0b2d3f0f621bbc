mu ~ Normall(0, 1)
