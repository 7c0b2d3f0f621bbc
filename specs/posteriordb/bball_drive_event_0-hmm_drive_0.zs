# Data: ../shared/data/posteriordb/bball_drive_event_0-hmm_drive_0/data.json (posteriordb).
# Stan's forward algorithm (loops over t, k and j with log_sum_exp) is hmm_marginal: log_omega holds each
# state's exponential log densities of u and v, Gamma's row j is theta_j, and Stan's first step has no
# initial distribution (rho = 1 for every state). The model has two states written out (theta1, theta2).
model hmm_drive_0

data:
  K: int in [1, inf)
  N: int in [1, inf)
  u: real[N]
  v: real[N]
  alpha: real[K, K] in [0, inf)

theta1: simplex[2] ~ Dirichlet(stack(alpha[0, 0], alpha[0, 1]))   # K = 2, as the Stan program assumes
theta2: simplex[2] ~ Dirichlet(stack(alpha[1, 0], alpha[1, 1]))
phi: positive_ordered[2] ~ Normal([0.0, 3.0], 1)         # emission rates for 1/speed
lambda: positive_ordered[2] ~ Normal([0.0, 3.0], 1)      # emission rates for hoop distance
log_omega = transpose(log(phi) - phi * stack(u, u) + log(lambda) - lambda * stack(v, v)), hidden
factor hmm_marginal(log_omega, transpose(stack(theta1, theta2)), ones(2))
