# no emitted gradient: the emitted gradient has no rule for Dirichlet of a batch of vectors (in 'phi', lda.zs:14:3)
