# Data: ../shared/data/posteriordb/kidiq-kidscore_interaction/data.json (posteriordb).
model kidscore_interaction

data:
  N: int in [0, inf)
  kid_score: real[N] in [0, 200]
  mom_iq: real[N] in [0, 200]
  mom_hs: real[N] in [0, 1]

inter = mom_hs * mom_iq            # transformed data
beta ~ Flat(), event=[4]
sigma: real in (0, inf) ~ Cauchy(0, 2.5)
kid_score ~ Normal(beta[0] + beta[1] * mom_hs + beta[2] * mom_iq + beta[3] * inter, sigma), event=[N]
