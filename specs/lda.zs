# Data: ../shared/data/text/ap/ap_counts.npz, its (doc, word, count) triples densified to counts [2246, 10473].
# Engine: sgvb with --guide auto-normal (a Gaussian guide on the unconstrained simplexes).
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
