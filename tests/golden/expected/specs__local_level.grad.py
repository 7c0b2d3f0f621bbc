# no emitted gradient: the emitted gradient has no rule for a scan loop (in 'scan@13', local_level.zs:13:1); it runs with PyTorch autograd
