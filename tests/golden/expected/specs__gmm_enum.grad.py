# no emitted gradient: the emitted gradient has no rule for the discrete latent 'z'
