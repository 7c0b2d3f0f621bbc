# no emitted gradient: the emitted gradient has no rule for the function 'ard_kernel' (in 'K', gp_ard.zs:15:1)
