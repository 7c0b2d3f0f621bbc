# no emitted gradient: the emitted gradient has no rule for the simplex transform (in 'theta1', bball_drive_event_0-hmm_drive_0.zs:14:1)
