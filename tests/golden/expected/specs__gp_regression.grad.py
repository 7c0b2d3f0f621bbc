# no emitted gradient: the emitted gradient has no rule for the function 'exp_quad_kernel' (in 'K', gp_regression.zs:13:1)
