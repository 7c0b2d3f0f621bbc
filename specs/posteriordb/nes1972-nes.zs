# Data: ../shared/data/posteriordb/nes1972-nes/data.json (posteriordb).
model nes

data:
  N: int in [0, inf)
  partyid7: real[N]
  real_ideo: real[N]
  race_adj: real[N]
  educ1: real[N]
  gender: real[N]
  income: real[N]
  age_discrete: int[N]

age30_44 = to_real(age_discrete == 2)        # age as a factor (transformed data)
age45_64 = to_real(age_discrete == 3)
age65up = to_real(age_discrete == 4)
beta ~ Flat(), event=[9]
sigma: real in (0, inf) ~ Flat()
partyid7 ~ Normal(beta[0] + beta[1] * real_ideo + beta[2] * race_adj + beta[3] * age30_44 + beta[4] * age45_64
                  + beta[5] * age65up + beta[6] * educ1 + beta[7] * gender + beta[8] * income, sigma), event=[N]
