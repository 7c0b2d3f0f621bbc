# Data: ../shared/data/posteriordb/kidiq_with_mom_work-kidscore_interaction_c/data.json (posteriordb).
model kidscore_interaction_c

data:
  N: int in [0, inf)
  kid_score: real[N]
  mom_hs: real[N]
  mom_iq: real[N]

c_mom_hs = mom_hs - mean(mom_hs)   # centered predictors (transformed data)
c_mom_iq = mom_iq - mean(mom_iq)
inter = c_mom_hs * c_mom_iq
beta ~ Flat(), event=[4]
sigma: real in (0, inf) ~ Flat()
kid_score ~ Normal(beta[0] + beta[1] * c_mom_hs + beta[2] * c_mom_iq + beta[3] * inter, sigma), event=[N]
