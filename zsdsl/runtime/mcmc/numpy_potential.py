"""The potential and its gradient in NumPy (``npad``), for the models the NumPy library covers.

``NumpyPotential.build(potential)`` runs the model's generated ``_model`` with ``zl`` bound to
``zsdsl.runtime.lib.np_lib`` (the same code, other arithmetic) and checks value and gradient
against PyTorch at a few points; it returns None when the model uses something the NumPy
library lacks or when the two disagree, and the sampler keeps PyTorch. For small models this
path costs a fraction of a PyTorch autograd call (no dispatcher, no tape objects per tensor).
"""

from __future__ import annotations

import copy
import math
import os
import types
import warnings

import numpy as np
import torch

from zsdsl.runtime.lib import bijectors as B
from zsdsl.runtime.lib import np_lib, npad
from zsdsl.runtime.lib.npad import Tape, Unsupported, Var
from zsdsl.runtime.lib.nptrace import Retrace, TracedFunction, pure


def _const(x):
    if torch.is_tensor(x):
        return x.detach().cpu().numpy()
    return x


def _bijector(bij):
    """(forward, log|det J| or None) over Vars for the bijectors of scalar and array supports."""
    t = type(bij)
    if t is B.Identity:
        return (lambda u: u), None
    if t is B.Positive:
        return npad.exp, (lambda u: u)
    if t is B.LowerBound:
        low = _const(bij.low)
        return (lambda u: low + npad.exp(u)), (lambda u: u)
    if t is B.UpperBound:
        high = _const(bij.high)
        return (lambda u: high - npad.exp(u)), (lambda u: u)
    if t is B.Interval:
        low, high = _const(bij.low), _const(bij.high)
        width = high - low
        log_width = np.log(width)
        return (lambda u: low + width * npad.sigmoid(u)), (lambda u: log_width - npad.softplus(-u) - npad.softplus(u))
    if t is B.Ordered:
        return (lambda u: npad.concat([u[..., :1], u[..., :1] + npad.cumsum(npad.exp(u[..., 1:]))], -1)), (
            lambda u: u[..., 1:]
        )
    if t is B.PositiveOrdered:
        return (lambda u: npad.cumsum(npad.exp(u))), (lambda u: u)
    raise Unsupported(f"the {t.__name__} transform")


def _data(data: dict) -> dict:
    out = {}
    for k, v in data.items():
        if torch.is_tensor(v):
            v = v.detach().cpu().numpy()
            if v.dtype.kind == "f":
                v = v.astype(np.float64)
        out[k] = v
    return out


@pure
def _gradient(dim: int, pieces: list):
    """-(the leaves' gradients) laid end to end (None: no dependence)."""
    out = np.zeros(dim)
    offset = 0
    for g, size in pieces:
        if g is not None:
            if size == 1 and not np.ndim(g):
                out[offset] = -g
            else:
                out[offset : offset + size] = -np.reshape(g, (size,))
        offset += size
    return out


def _same(traced: TracedFunction, z, U, grad) -> bool:
    """The traced code gives npad's value and gradient at ``z`` (the same calls: to rounding)."""
    try:
        with np.errstate(all="ignore"):
            U_c, g_c = traced.traced(z)
    except (Retrace, ArithmeticError, ValueError):
        return True  # another branch here; such points are npad's
    except Exception:  # noqa: BLE001 - code that cannot run is not used
        return False
    return abs(float(U_c) - U) <= 1e-12 * max(1.0, abs(U)) and np.allclose(g_c, grad, rtol=1e-10, atol=1e-12)


class NumpyPotential:
    def __init__(self, potential):
        model = potential.model
        fn = getattr(type(model), "_model", None)
        if fn is None or "zl" not in getattr(fn, "__globals__", {}):
            raise Unsupported("generated code without zl")
        if any(True for _ in model.parameters()):
            raise Unsupported("networks and learnable parameters (PyTorch modules)")
        scope = dict(fn.__globals__, zl=np_lib)
        self._fn = types.FunctionType(fn.__code__, scope, fn.__name__, fn.__defaults__, fn.__closure__)
        self._model = copy.copy(model)
        self._model.transformed = self._transformed  # Stan's transformed data: PyTorch's, once
        self._torch_model, self._torch_data, self._converted = model, potential.data, {}
        potential._torch_value_and_grad(np.zeros(potential.dim))  # fills the PyTorch transformed-data cache
        self.data = _data(potential.data)
        self.dim = potential.dim
        self.slots, self._traced, self.traced_source = [], None, None
        self._calls = self._handed_back = 0  # points given to the traced code, and handed back to npad
        end = 0
        for name, bij, shape, offset, size, _ in potential._flat:
            if offset != end:
                raise Unsupported("sites that do not tile the unconstrained vector in order")
            end += size
            fwd, ladj = _bijector(bij)
            self.slots.append((name, fwd, ladj, tuple(shape), offset, size))
        if end != self.dim:
            raise Unsupported("sites that do not tile the unconstrained vector")

    def _transformed(self, data: dict, name: str, compute):
        """Transformed data (data-only nodes) as PyTorch computed it, converted once to NumPy."""
        if name not in self._converted:
            cache = self._torch_model.__dict__.get("_transformed")
            if cache is not None and cache[0] is self._torch_data and name in cache[1]:
                self._converted[name] = _const(cache[1][name])
            else:
                self._converted[name] = compute()
        return self._converted[name]

    @classmethod
    def build(cls, potential, points: int = 3, seed: int = 0) -> NumpyPotential | None:
        """A checked NumPy potential for ``potential``, or None where PyTorch must stay."""
        return cls.build_with_reason(potential, points, seed)[0]

    @classmethod
    def build_with_reason(cls, potential, points: int = 3, seed: int = 0) -> tuple[NumpyPotential | None, str]:
        """(a checked NumPy potential or None, why): the reason says why PyTorch stays, or how the NumPy
        path evaluates (traced straight-line code, or the tape where the recorder could not follow)."""
        if os.environ.get("ZSDSL_NUMPY_POTENTIAL", "1") == "0":
            return None, "ZSDSL_NUMPY_POTENTIAL=0 is set"
        if potential.enum:
            return None, "the model has an enumerated site (summed out by the PyTorch path only)"
        if potential.dim == 0:
            return None, "the model has no continuous latents"
        try:
            me = cls(potential)
            rng = np.random.default_rng(seed)
            zs = [rng.uniform(-2, 2, potential.dim) for _ in range(points)]
            traced = me.trace(zs[0]) if os.environ.get("ZSDSL_TRACED_GRADIENT", "1") != "0" else None
            # float64 throughout here; PyTorch in float32 (the Python API's default dtype) is looser
            tol = 1e-9 if torch.get_default_dtype() == torch.float64 else 1e-4
            compared = 0
            for z in zs:
                U_t, g_t = potential._torch_value_and_grad(z)
                if not (math.isfinite(U_t) and np.isfinite(g_t).all()):
                    continue
                with np.errstate(all="ignore"):
                    U_n, g_n = me.value_and_grad(z)
                scale = max(1.0, abs(U_t))
                if abs(U_n - U_t) > tol * scale or not np.allclose(g_n, g_t, rtol=100 * tol, atol=tol * scale):
                    warnings.warn("the NumPy potential disagrees with PyTorch for this model; using PyTorch.",
                                  stacklevel=2)  # fmt: skip
                    return None, "the NumPy potential disagreed with PyTorch autograd at a check point"
                if traced is not None and not _same(traced, z, U_n, g_n):
                    traced = None
                compared += 1
            if not compared:
                return None, "no check point had a finite log density to compare the NumPy path at"
            if traced is not None:
                me._traced, me.traced_source = traced.traced, traced.source
                return me, "traced straight-line NumPy code, checked against PyTorch autograd"
            return me, "NumPy reverse mode (the recorder could not trace this model), checked against autograd"
        except Exception as exc:  # noqa: BLE001 - anything the NumPy library cannot run: PyTorch stays, and says why
            return None, f"the NumPy library cannot run this model ({type(exc).__name__}: {exc})"

    def _potential(self, z):
        """(U, dU/dz) as arrays, by npad: what ``value_and_grad`` returns and ``nptrace`` records."""
        with Tape() as tape:
            values, leaves, parts = {}, [], []
            for name, fwd, ladj, shape, offset, size in self.slots:
                if not shape:  # a scalar site
                    u = Var(z[offset])
                else:
                    u = z[offset : offset + size]
                    u = Var(u if len(shape) == 1 else u.reshape(shape))
                leaves.append((u, size))
                values[name] = fwd(u)
                if ladj is not None:
                    parts.append(ladj(u))
            terms, _ = self._fn(self._model, values, self.data, None)
            parts.extend(terms.values())
            U = npad.total(parts)
            if type(U) is not Var:
                return -U, np.zeros(self.dim)
            tape.backward(U)
            # the slots lie in order and cover the vector (checked in __init__)
            return -U.v, _gradient(self.dim, [(u.g, size) for u, size in leaves])

    def value_and_grad(self, z: np.ndarray) -> tuple[float, np.ndarray]:
        if self._traced is not None:
            self._calls += 1
            try:
                U, grad = self._traced(z)
                return float(U), grad
            except (Retrace, ArithmeticError, ValueError):
                # a branch goes the other way here, or scalar maths left the reals: npad's point; where
                # that is common (a model branching on its parameters), npad takes every point
                self._handed_back += 1
                if self._handed_back > 100 and 20 * self._handed_back > self._calls:
                    self._traced = None
        U, grad = self._potential(z)
        return float(U), grad

    def trace(self, z0: np.ndarray) -> TracedFunction | None:
        """Straight-line NumPy code for value and gradient (``nptrace``), traced at ``z0``; None
        where the recorder cannot follow the model."""
        try:
            return TracedFunction(self._potential, z0)
        except Exception:  # noqa: BLE001 - Unsupported, or anything else the recorder trips on: npad stays
            return None
