# no emitted gradient: the emitted gradient has no rule for the function 'exp_quad_kernel' (in 'L_cov', gp_pois_regr.zs:13:1)
