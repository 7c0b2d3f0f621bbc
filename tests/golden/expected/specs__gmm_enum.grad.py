# no emitted gradient: the emitted gradient has no rule for the discrete latent 'z' (in 'z', gmm_enum.zs:13:3)
