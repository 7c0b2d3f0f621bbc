sigma: real ~ HalfNormal(1)
