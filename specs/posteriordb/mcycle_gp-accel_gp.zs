# Data: ../shared/data/posteriordb/mcycle_gp-accel_gp/data.json (posteriordb; brms's approximate GP).
# Stan's user functions gpa() and spd_cov_exp_quad() are written inline for their one use here (one input
# dimension): the GP is the basis matrix times the square root of the exponentiated-quadratic spectral
# density at the eigenvalues, times standard normal weights. The truncation constants of Stan's
# student_t_lccdf terms do not change the posterior.
model accel_gp

data:
  N: int in [1, inf)
  Y: real[N]
  NBgp_1: int in [1, inf)
  Xgp_1: real[N, NBgp_1]
  slambda_1: real[NBgp_1, 1]
  NBgp_sigma_1: int in [1, inf)
  Xgp_sigma_1: real[N, NBgp_sigma_1]
  slambda_sigma_1: real[NBgp_sigma_1, 1]

Intercept ~ StudentT(3, -13, 36)
sdgp_1: real in (0, inf) ~ StudentT(3, 0, 36)
lscale_1: real in (0, inf) ~ InverseGamma(1.124909, 0.0177)
zgp_1 ~ Normal(0, 1), event=[NBgp_1]
Intercept_sigma ~ StudentT(3, 0, 10)
sdgp_sigma_1: real in (0, inf) ~ StudentT(3, 0, 36)
lscale_sigma_1: real in (0, inf) ~ InverseGamma(1.124909, 0.0177)
zgp_sigma_1 ~ Normal(0, 1), event=[NBgp_sigma_1]

# sqrt(spd) = sdgp sqrt(sqrt(2 pi) lscale) exp(-lscale^2 slambda^2 / 4): the same value, written so that
# a spectral density that underflows to 0 does not give sqrt's derivative at 0 (an infinite gradient)
diag_spd_1 = (sdgp_1 * sqrt(sqrt(2 * 3.141592653589793) * lscale_1)
              * exp(-0.25 * square(lscale_1) * square(slambda_1[:, 0]))), hidden
diag_spd_sigma_1 = (sdgp_sigma_1 * sqrt(sqrt(2 * 3.141592653589793) * lscale_sigma_1)
                    * exp(-0.25 * square(lscale_sigma_1) * square(slambda_sigma_1[:, 0]))), hidden
mu = Intercept + Xgp_1 @ (diag_spd_1 * zgp_1), hidden
sigma = exp(Intercept_sigma + Xgp_sigma_1 @ (diag_spd_sigma_1 * zgp_sigma_1)), hidden
Y ~ Normal(mu, sigma), event=[N]
