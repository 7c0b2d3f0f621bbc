# no emitted gradient: the emitted gradient has no rule for the simplex transform (in 'phi', lda.zs:12:3)
