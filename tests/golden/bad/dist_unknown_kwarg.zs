mu ~ Normal(0, scal=1)
