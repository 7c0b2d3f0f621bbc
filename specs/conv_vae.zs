# Data: ../shared/data/mnist/binarized_mnist.npz (x: [50000, 784]).
# Engines: sgvb, iwae. The VAE with convolutional encoder and decoder.
model conv_vae

data:
  x: real[N, 784] in [0, 1]

dims:
  z_dim = 32

nets:
  decoder = Sequential(Linear(z_dim -> 3136), relu, Reshape(64, 7, 7),
                       ConvTranspose2d(64 -> 32, kernel=4, stride=2, padding=1), relu,
                       ConvTranspose2d(32 -> 1, kernel=4, stride=2, padding=1), Flatten())

plate n in N, subsample=128:
  z[n] ~ Normal(0, 1), event=[z_dim]
  x[n] ~ Bernoulli(logits=decoder(z[n])), event=[784]

guide q:
  nets:
    encoder = Sequential(Reshape(1, 28, 28), Conv2d(1 -> 32, kernel=4, stride=2, padding=1), relu,
                         Conv2d(32 -> 64, kernel=4, stride=2, padding=1), relu, Flatten(),
                         Linear(3136 -> 2 * z_dim))
  plate n in N:
    h = encoder(x[n])
    z[n] ~ Normal(h[:z_dim], softplus(h[z_dim:])), event=[z_dim]
