# Data: ../shared/data/posteriordb/kidiq-kidscore_momhsiq/data.json (posteriordb). beta has a flat prior, as in Stan.
model kidscore_momhsiq

data:
  N: int in [0, inf)
  kid_score: real[N] in [0, 200]
  mom_iq: real[N] in [0, 200]
  mom_hs: real[N] in [0, 1]

beta ~ Flat(), event=[3]
sigma: real in (0, inf) ~ Cauchy(0, 2.5)
kid_score ~ Normal(beta[0] + beta[1] * mom_hs + beta[2] * mom_iq, sigma), event=[N]
