# Data: ../shared/data/posteriordb/diamonds-diamonds/data.json.gz (posteriordb; brms-generated Stan).
# Stan's transformed data centre the columns 2..K of X; the constant -student_t_lccdf(0 | 3, 0, 10)
# of sigma's truncated prior is left out (it does not change the posterior). prior_only is 0.
model diamonds

data:
  N: int in [1, inf)
  Y: real[N]
  K: int in [1, inf)
  X: real[N, K]
  prior_only: int in [0, 1]

Xs = X[:, 1:]
means_X = matvec(transpose(Xs), ones(N)) / N
Xc = Xs - means_X
b ~ Normal(0, 1), event=[K - 1]
Intercept ~ StudentT(3, 8, 10)
sigma: real in (0, inf) ~ StudentT(3, 0, 10)
Y ~ Normal(Intercept + matvec(Xc, b), sigma), event=[N]
