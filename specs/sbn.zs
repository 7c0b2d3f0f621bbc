# Data: ../shared/data/mnist/binarized_mnist.npz (x: int [50000, 784] in {0, 1}).
# Engines: vimco (--particles 50), nvil, rws. A sigmoid belief net with three layers of 200 Bernoulli units.
model sbn

data:
  x: int[N, 784] in {0, 1}

params:
  top_logits: real[200]

nets:
  p2 = Linear(200 -> 200)
  p1 = Linear(200 -> 200)
  px = Linear(200 -> 784)

plate n in N, subsample=24:
  h3[n] ~ Bernoulli(logits=top_logits), event=[200]
  h2[n] ~ Bernoulli(logits=p2(h3[n])), event=[200]
  h1[n] ~ Bernoulli(logits=p1(h2[n])), event=[200]
  x[n] ~ Bernoulli(logits=px(h1[n])), event=[784]

guide q:
  nets:
    q1 = Linear(784 -> 200)
    q2 = Linear(200 -> 200)
    q3 = Linear(200 -> 200)
  plate n in N:
    h1[n] ~ Bernoulli(logits=q1(x[n])), event=[200]
    h2[n] ~ Bernoulli(logits=q2(h1[n])), event=[200]
    h3[n] ~ Bernoulli(logits=q3(h2[n])), event=[200]
