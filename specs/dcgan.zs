# Data: ../shared/data/mnist/mnist.npz:train (x: [60000, 784], grey levels in [0, 1]).
# Engines: --infer gan (non-saturating loss, Adam 2e-4 (0.5, 0.999) as DCGAN) or --infer wgan-gp.
# An implicit model: x is the generator's output, with no density; the critic block judges it.
model dcgan

data:
  x: real[N, 784] in [0, 1]

dims:
  z_dim = 64

nets:
  generator = Sequential(Linear(z_dim -> 3136), relu, Reshape(64, 7, 7),
                         ConvTranspose2d(64 -> 32, kernel=4, stride=2, padding=1), relu,
                         ConvTranspose2d(32 -> 1, kernel=4, stride=2, padding=1), sigmoid, Flatten())

plate n in N, subsample=64:
  z[n] ~ Normal(0, 1), event=[z_dim]
  x[n] ~ Implicit(generator(z[n])), event=[784]

critic d:
  nets:
    disc = Sequential(Reshape(1, 28, 28), Conv2d(1 -> 32, kernel=4, stride=2, padding=1), leaky_relu,
                      Conv2d(32 -> 64, kernel=4, stride=2, padding=1), leaky_relu, Flatten(), Linear(3136 -> 1))
  plate n in N:
    score disc(x[n])[0]
