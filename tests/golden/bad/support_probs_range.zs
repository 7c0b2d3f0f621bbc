z ~ Bernoulli(probs=1.5)
