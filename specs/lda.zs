# Data: ../shared/data/text/ap/ap_counts.npz (:train / :test, a fixed 90/10 split of the documents;
# the reader densifies its (doc, word, count) triples to counts [D, 10473]).
# Engine: sgvb with the guide q (amortized Dirichlet proportions, Dirichlet topics), or
# --guide auto-normal (a Gaussian on each unconstrained simplex, per document).
model lda

data:
  counts: int[D, V] in [0, inf)

dims:
  K = 50

plate k in K:
  phi[k] ~ Dirichlet(full(V, 0.1))          # topic-word distributions
plate d in D, subsample=64:
  theta[d] ~ Dirichlet(full(K, 0.5))        # document-topic proportions
  counts[d] ~ Multinomial(total_count=sum(counts[d]), probs=theta[d] @ phi)

guide q:
  params:
    # the concentrations of q(phi), topic k seeded with document k's words (breaks the topics' symmetry)
    lam: real[K, V] in (0, inf) = counts[:K] + 0.1
  nets:
    encoder = MLP(V -> 100 -> K, act=softplus)
  plate k in K:
    phi[k] ~ Dirichlet(lam[k])
  plate d in D:
    # a floor of 0.1 keeps the proportions' gamma draws away from underflow (NaN gradients below it)
    theta[d] ~ Dirichlet(softplus(encoder(log1p(counts[d]))) + 0.1)
