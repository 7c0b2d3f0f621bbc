# Data: ../shared/data/mnist/binarized_mnist.npz (x: [50000, 784] after unpacking the bits).
# Engines: sgvb, iwae (--particles 50), with the amortized guide q or --guide auto-iaf.
model vae

data:
  x: real[N, 784] in [0, 1]

dims:
  z_dim = 40

nets:
  decoder = MLP(z_dim -> 500 -> 500 -> 784, act=relu)

plate n in N, subsample=128:
  z[n] ~ Normal(0, 1), event=[z_dim]
  x[n] ~ Bernoulli(logits=decoder(z[n])), event=[784]

guide q:
  nets:
    encoder = MLP(784 -> 500 -> 500 -> 2 * z_dim, act=relu)
  plate n in N:
    h = encoder(x[n])
    z[n] ~ Normal(h[:z_dim], softplus(h[z_dim:])), event=[z_dim]
