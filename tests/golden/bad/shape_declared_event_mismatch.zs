theta: simplex[2] ~ Dirichlet(ones(3))
