# no emitted gradient: the emitted gradient has no rule for the simplex transform (of 'phi')
