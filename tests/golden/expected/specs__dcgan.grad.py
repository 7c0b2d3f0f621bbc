# no emitted gradient: the emitted gradient has no rule for networks
