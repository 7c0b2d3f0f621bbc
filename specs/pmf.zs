# Data: ../shared/data/movielens/ml100k.csv.gz: user, item are 1-based there (subtract 1); U=943, I=1682. Research use only.
# Engines: sgvb, nuts. Probabilistic matrix factorisation (Salakhutdinov & Mnih 2008).
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
plate u in U:
  P[u] ~ Normal(0, 1), event=[K]
plate i in I:
  Q[i] ~ Normal(0, 1), event=[K]
plate r in R, subsample=1000:
  rating[r] ~ Normal(sum(P[user[r]] * Q[item[r]]), sigma)
