"""The GP covariance functions on the emitted gradient path: the distances between data points are
computed once per data set; the kernel is then elementwise arithmetic on them and the hyperparameters
(whose adjoints the elementwise rules give). Points that are latent, in D dims or in plates, and vector
hyperparameters, stay on the PyTorch path (``Unsupported`` says which)."""

from __future__ import annotations

import math

from zsdsl.compiler.gradient.graph import Unsupported, Val


def lower_kernel(lowering, name: str, args: list[Val]) -> Val:
    b = lowering.b
    x1, x2, alpha, rho, *rest = args
    if not (x1.data and x2.data) or x1.lead or x2.lead or len(x1.shape) != 1 or len(x2.shape) != 1:
        raise Unsupported(f"{name} of points that are not 1-D data ({lowering.where()})")
    if not all(h.scalar for h in (alpha, rho, *rest)):
        raise Unsupported(f"{name} with vector hyperparameters ({lowering.where()})")
    shape = (x1.shape[0], x2.shape[0])
    outer = f"np.subtract.outer({x1.name}, {x2.name})"
    if name == "exp_quad_kernel":  # alpha² exp(-d² / (2 rho²))
        d2 = b.emit("code", (x1, x2), shape, 0, "real", (f"np.square({outer})",), data=True)
        return b.unary("square", alpha) * b.unary("exp", d2 * (-0.5 / b.unary("square", rho)))
    d = b.emit("code", (x1, x2), shape, 0, "real", (f"np.abs({outer})",), data=True)
    a2 = b.unary("square", alpha)
    if name == "exponential_kernel":
        return a2 * b.unary("exp", -(d / rho))
    if name == "periodic_kernel":
        s = b.unary("sin", d * (math.pi / rest[0]))
        return a2 * b.unary("exp", s * s * (-2.0 / b.unary("square", rho)))
    c = math.sqrt(3.0) if name == "matern32_kernel" else math.sqrt(5.0)
    r = d * (c / rho)
    poly = 1.0 + r if name == "matern32_kernel" else 1.0 + r + r * r * (1.0 / 3.0)
    return a2 * poly * b.unary("exp", -r)
