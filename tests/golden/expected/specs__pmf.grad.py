# no emitted gradient: the emitted gradient has no rule for a value read outside its plates (in 'rating')
