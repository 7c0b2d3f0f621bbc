"""``ode_rk45``: the runtime of the language's ODE solutions (Stan's ``ode_rk45``).

The generated code passes the right-hand side as a function ``rhs(t, y, *args)`` (the user function's
body, inlined), the initial state ``y0`` ([*sample, n]), the initial time ``t0``, the output times ``ts``
([T], strictly increasing, after ``t0``), the extra arguments and each one's element rank (the declared
rank of its parameter: the dims before it are sample dims). The value is the state at each output time,
``[*sample, T, n]``, the state broadcast over the arguments' sample dims.

Where the compiler could write the coupled sensitivity system (``sens``, from ``zsdsl.compiler.ode_sens``,
compiled by numba), every solve integrates it with the compiled Dormand–Prince 5(4) stepper of
``dopri5`` (Stan's rk45 pair), one draw at a time, and the gradients are the sensitivities: the same
solution with and without gradients, and error control on the sensitivities as in Stan. Otherwise the
solve is torchdiffeq's ``dopri5``, batched over draws, with gradients by autograd through its steps.
Both give dense output at ``ts``; ``max_steps`` bounds the steps between two output times, as Stan's
``max_num_steps``. A solve that fails (too many steps, a step size that underflows, a state that
overflows) raises ``SolverFailure``: NUTS rejects the proposal, as Stan does, and counts it; other
engines stop with the message.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torchdiffeq import odeint

from zsdsl.errors import DataError, NumericalError
from zsdsl.runtime.lib import dopri5
from zsdsl.runtime.lib.dopri5 import ode_jit  # noqa: F401  (the generated code's)


class SolverFailure(NumericalError):
    """An ODE solve that did not finish; ``reason`` is the short cause (counted by the sampler)."""

    def __init__(self, where: str, reason: str, detail: str):
        super().__init__(f"The ODE solver of {where} failed: {reason} ({detail}).")
        self.reason = f"{where}: {reason}"


def ode_rk45(rhs, y0, t0, ts, args=(), ranks=(), *, rtol=1e-6, atol=1e-6, max_steps=1_000_000, where="ode_rk45",
             sens=None):  # fmt: skip
    """The solution of dy/dt = rhs(t, y, *args), y(t0) = y0, at the times ``ts``: [*sample, T, n].

    ``sens(t, y, a, out)``, where the compiler could build it, is the compiled coupled sensitivity system:
    the solve integrates it and its gradients are the sensitivities (no tape of the solver's steps);
    without it the solve runs torchdiffeq."""
    y0 = torch.as_tensor(y0, dtype=torch.get_default_dtype())
    args = [torch.as_tensor(a, dtype=y0.dtype) for a in args]
    times = _times(t0, ts, y0.dtype, where)
    batch = torch.broadcast_shapes(y0.shape[:-1], *(a.shape[: a.dim() - r] for a, r in zip(args, ranks, strict=True)))
    if sens is not None:  # with or without gradients, so that both give the same solution
        opts = {"rtol": float(rtol), "atol": float(atol), "max_steps": int(max_steps), "where": where}
        return _SensitivitySolve.apply(sens, times, opts, tuple(ranks), batch, y0, *args)
    y0 = y0.expand(*batch, y0.shape[-1])

    def f(t, y):
        return rhs(t, y, *args).expand(y.shape)  # a right-hand side constant in some samples still has their dims

    try:
        sol = odeint(f, y0, times, rtol=rtol, atol=atol, method="dopri5", options={"max_num_steps": int(max_steps)})
    except AssertionError as err:  # torchdiffeq reports a failed solve by assertions
        raise _failure(str(err), where, max_steps) from None
    if not torch.isfinite(sol).all():
        raise SolverFailure(where, "the solution is not finite", "the state overflowed between two output times")
    return sol[1:].movedim(0, -2)  # [T, *batch, n] → [*batch, T, n], without the initial time


class _SensitivitySolve(torch.autograd.Function):
    """The solution from the coupled system; its backward contracts the output's gradient with S."""

    @staticmethod
    def forward(ctx, sens, times, opts, ranks, batch, y0, *args):
        n, B, T = y0.shape[-1], math.prod(batch), times.numel() - 1
        flat = [a.expand(*batch, *a.shape[a.dim() - r :]).reshape(B, -1) for a, r in zip(args, ranks, strict=True)]
        A = torch.cat(flat, -1) if flat else y0.new_zeros(B, 0)
        Y0 = y0.expand(*batch, n).reshape(B, n)
        m = n + A.shape[-1]
        sol, S = np.empty((B, T, n)), np.empty((B, T, n, m))
        t, Y0, A = (x.detach().to(torch.float64).cpu().numpy() for x in (times, Y0, A))
        for b in range(B):  # one compiled solve per draw
            sol[b], S[b] = solve_coupled(sens, t, Y0[b], A[b], **opts)
        ctx.S = torch.from_numpy(S).to(y0.dtype).to(y0.device)
        ctx.layout = (batch, n, [(a.shape, a.shape[a.dim() - r :]) for a, r in zip(args, ranks, strict=True)], y0.shape)
        return torch.from_numpy(sol).to(y0.dtype).to(y0.device).reshape(*batch, T, n)

    @staticmethod
    def backward(ctx, grad):
        batch, n, arg_shapes, y0_shape = ctx.layout
        S = ctx.S
        g = torch.einsum("bti,btim->bm", grad.reshape(S.shape[:3]), S)  # d(loss)/d(y0, args), per draw
        out = [g[:, :n].reshape(*batch, n).sum_to_size(y0_shape) if ctx.needs_input_grad[5] else None]
        offset = n
        for k, (shape, elem) in enumerate(arg_shapes):
            size = math.prod(elem)
            if ctx.needs_input_grad[6 + k]:
                out.append(g[:, offset : offset + size].reshape(*batch, *elem).sum_to_size(shape))
            else:
                out.append(None)
            offset += size
        return (None, None, None, None, None, *out)


def solve_coupled(sens, times: np.ndarray, y0: np.ndarray, a: np.ndarray, *, rtol, atol, max_steps, where):
    """The state and its sensitivities at ``times[1:]``: ([T, n], [T, n, m]), the coupled system integrated
    by the compiled Dormand–Prince stepper (``dopri5``), at most ``max_steps`` steps between two times."""
    n, m = y0.size, y0.size + a.size
    init = np.zeros(n + n * m)
    init[:n] = y0
    init[n : n + n * m : m + 1] = 1.0  # dy/dy0 = I at t0 (the diagonal of S's first n columns)
    out = np.empty((times.size - 1, n + n * m))
    status, i = dopri5.integrate(sens, times, init, a, float(rtol), float(atol), int(max_steps), out)
    if status == dopri5.MAX_STEPS:
        raise _failure("max_num_steps", where, max_steps)
    if status == dopri5.UNDERFLOW:
        raise SolverFailure(where, "the step size underflowed", f"before t = {times[i]}: the system is stiff or "
                            "singular there")  # fmt: skip
    if status == dopri5.NOT_FINITE:
        raise SolverFailure(where, "the state is not finite", f"it overflowed before t = {times[i]}")
    return out[:, :n], out[:, n:].reshape(-1, n, m)


def ode_times_np(t0, ts, where: str) -> np.ndarray:
    """The emitted gradient path's times: ``t0`` then ``ts``, checked to increase strictly."""
    return _times(t0, ts, torch.float64, where).numpy()


def ode_solve_np(sens, times: np.ndarray, y0, args: tuple, rtol, atol, max_steps, where: str):
    """The emitted gradient path's solve: (solution [T, n], sensitivities [T, n, m]) for one draw."""
    a = np.concatenate([np.ravel(x) for x in args]).astype(np.float64) if args else np.zeros(0)
    return solve_coupled(sens, times, np.asarray(y0, dtype=np.float64), a, rtol=rtol, atol=atol,
                         max_steps=max_steps, where=where)  # fmt: skip


def _times(t0, ts, dtype, where: str) -> torch.Tensor:
    ts = torch.as_tensor(ts, dtype=dtype)
    t0 = torch.as_tensor(t0, dtype=dtype).reshape(1)
    if ts.dim() != 1 or ts.numel() == 0:
        raise DataError(f"The output times of {where} must be a non-empty vector, got shape {tuple(ts.shape)}.")
    times = torch.cat([t0, ts])
    steps = times[1:] - times[:-1]
    if not bool((steps > 0).all()):
        k = int(torch.nonzero(steps <= 0)[0])
        before = f"t0 = {float(t0)}" if k == 0 else f"ts[{k - 1}] = {float(ts[k - 1])}"
        raise DataError(f"The output times of {where} must increase strictly from t0: ts[{k}] = {float(ts[k])} "
                        f"follows {before}.")  # fmt: skip
    return times


def _failure(message: str, where: str, max_steps) -> SolverFailure:
    if "max_num_steps" in message:
        return SolverFailure(where, f"more than max_steps={int(max_steps)} steps between two output times",
                             "raise max_steps, loosen rtol/atol, or bound what makes it stiff")  # fmt: skip
    if "underflow" in message:
        return SolverFailure(where, "the step size underflowed", "the system is stiff or singular here")
    if "non-finite" in message:
        return SolverFailure(where, "the state is not finite", "the solution overflowed")
    return SolverFailure(where, "the solver stopped", message)
