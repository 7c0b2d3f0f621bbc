# Data: ../shared/data/posteriordb/eight_schools-eight_schools_centered/data.json (also specs/data/eight_schools.json)
# Engine: nuts (expect divergences: the centered funnel).
model eight_schools_centered

data:
  J: int in [0, inf)
  y: real[J]
  sigma: real[J] in (0, inf)

mu ~ Normal(0, 5)
tau: real in (0, inf) ~ Cauchy(0, 5)    # half-Cauchy through the declared bound, as in Stan
plate j in J:
  theta[j] ~ Normal(mu, tau)
  y[j] ~ Normal(theta[j], sigma[j])
