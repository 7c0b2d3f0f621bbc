data:
  y: int[3] in {0, 1}
p ~ Beta(1, 1)
y ~ Bernoulli(probs=p, logits=p), event=[3]
