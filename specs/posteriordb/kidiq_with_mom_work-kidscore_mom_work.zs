# Data: ../shared/data/posteriordb/kidiq_with_mom_work-kidscore_mom_work/data.json (posteriordb).
model kidscore_mom_work

data:
  N: int in [0, inf)
  kid_score: real[N]
  mom_work: int[N]

work2 = to_real(mom_work == 2)     # indicators (Stan's transformed-data loop)
work3 = to_real(mom_work == 3)
work4 = to_real(mom_work == 4)
beta ~ Flat(), event=[4]
sigma: real in (0, inf) ~ Flat()
kid_score ~ Normal(beta[0] + beta[1] * work2 + beta[2] * work3 + beta[3] * work4, sigma), event=[N]
