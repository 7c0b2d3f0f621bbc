# Data: ../shared/data/posteriordb/hudson_lynx_hare-lotka_volterra/data.json (posteriordb).
# Lotka-Volterra predator-prey dynamics fitted to the Hudson's Bay Company lynx and hare pelts (Carpenter's
# case study). Stan's integrate_ode_rk45(dz_dt, z_init, 0, ts, theta, x_r, x_i, 1e-5, 1e-3, 5e2) is
# ode_rk45 with the same tolerances; the unused x_r, x_i are dropped. Stan's arrays of reals are vectors.
model lotka_volterra

def dz_dt(t: real, z: real[2], theta: real[4]) -> real[2]:
    u = z[0]                                  # prey (hares)
    v = z[1]                                  # predators (lynxes)
    du_dt = (theta[0] - theta[1] * v) * u     # theta = alpha, beta, gamma, delta
    dv_dt = (-theta[2] + theta[3] * u) * v
    return [du_dt, dv_dt]

data:
  N: int in [0, inf)
  ts: real[N]
  y_init: real[2] in (0, inf)
  y: real[N, 2] in (0, inf)

theta: real[4] in (0, inf) ~ Normal([1.0, 0.05, 1.0, 0.05], [0.5, 0.05, 0.5, 0.05])
z_init: real[2] in (0, inf) ~ LogNormal(log(10.0), 1)
sigma: real[2] in (0, inf) ~ LogNormal(-1, 1)

z = ode_rk45(dz_dt, z_init, 0.0, ts, theta, rtol=1e-5, atol=1e-3, max_steps=500)   # real[N, 2]
y_init ~ LogNormal(log(z_init), sigma)
y ~ LogNormal(log(z), sigma)                  # sigma[k] for column k: broadcast over the N rows
