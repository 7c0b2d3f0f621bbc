# Data: ../shared/data/movielens/ml100k.csv.gz: user, item are 1-based there (subtract 1); U=943, I=1682. Research use only.
# Engines: sgvb, sghmc, nuts. Probabilistic matrix factorisation (Salakhutdinov & Mnih 2008), the factors'
# scales learnt (hierarchical priors; with N(0, 1) factors sgvb overfits: RMSE 0.948 against 0.926).
# benchmarks/pmf_movielens.py: test RMSE on a 90/10 split, ratings centred at the training mean.
model pmf

data:
  user: int[R] in [0, U)
  item: int[R] in [0, I)
  rating: real[R]

dims:
  K = 10
  U
  I

sigma ~ HalfNormal(1)
sigma_P ~ HalfNormal(1)
sigma_Q ~ HalfNormal(1)
plate u in U:
  P[u] ~ Normal(0, sigma_P), event=[K]
plate i in I:
  Q[i] ~ Normal(0, sigma_Q), event=[K]
plate r in R, subsample=1000:
  rating[r] ~ Normal(sum(P[user[r]] * Q[item[r]]), sigma)
