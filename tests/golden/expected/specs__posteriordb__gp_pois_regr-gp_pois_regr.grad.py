# no emitted gradient: the emitted gradient has no rule for the function 'exp_quad_kernel' (in 'f', gp_pois_regr-gp_pois_regr.zs:12:1)
