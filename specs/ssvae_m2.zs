# Data: ../shared/data/mnist/mnist.npz (grey levels scaled to [0, 1]; 100 labelled rows x_l, y_l, the rest x_u).
# Engine: sgvb with enumeration of y_u in the guide (Kingma et al. 2014, M2). N_total = L + U.
model ssvae_m2

data:
  x_l: real[L, 784] in [0, 1]
  y_l: int[L] in [0, 10)
  x_u: real[U, 784] in [0, 1]

dims:
  z_dim = 50
  N_total

nets:
  decoder = MLP(z_dim + 10 -> 500 -> 784, act=softplus)

plate n in L, subsample=100:
  z_l[n] ~ Normal(0, 1), event=[z_dim]
  y_l[n] ~ Categorical(probs=full(10, 0.1))
  x_l[n] ~ Bernoulli(logits=decoder(concat(z_l[n], one_hot(y_l[n], 10)))), event=[784]
plate m in U, subsample=100:
  z_u[m] ~ Normal(0, 1), event=[z_dim]
  y_u[m] ~ Categorical(probs=full(10, 0.1))
  x_u[m] ~ Bernoulli(logits=decoder(concat(z_u[m], one_hot(y_u[m], 10)))), event=[784]

guide q:
  nets:
    classifier = MLP(784 -> 500 -> 10, act=softplus)
    encoder = MLP(784 + 10 -> 500 -> 2 * z_dim, act=softplus)
  plate n in L:
    # the classification term, alpha = 0.1 N on its mean over the L labels (eq. 9; 60 a label here)
    factor 0.1 * N_total / L * logpdf(Categorical(logits=classifier(x_l[n])), y_l[n])
    h = encoder(concat(x_l[n], one_hot(y_l[n], 10)))
    z_l[n] ~ Normal(h[:z_dim], softplus(h[z_dim:])), event=[z_dim]
  plate m in U:
    y_u[m] ~ Categorical(logits=classifier(x_u[m])), enumerate
    hu = encoder(concat(x_u[m], one_hot(y_u[m], 10)))
    z_u[m] ~ Normal(hu[:z_dim], softplus(hu[z_dim:])), event=[z_dim]
