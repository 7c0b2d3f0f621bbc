# no emitted gradient: the emitted gradient has no rule for the function 'recurrence' (in 'sigma')
