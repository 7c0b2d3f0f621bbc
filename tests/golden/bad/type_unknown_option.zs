mu ~ Normal(0, 1), evnt=[3]
