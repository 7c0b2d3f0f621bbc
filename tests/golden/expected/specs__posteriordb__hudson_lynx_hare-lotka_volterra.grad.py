# no emitted gradient: the emitted gradient has no rule for ODE solutions (ode_rk45; solved with their sensitivities, differentiated by PyTorch) (in 'z', hudson_lynx_hare-lotka_volterra.zs:24:1)
