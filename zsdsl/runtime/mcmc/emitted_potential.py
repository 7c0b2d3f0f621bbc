"""The potential and its gradient from the compiler's emitted NumPy code (``--emit gradient``).

``EmittedPotential.build_with_reason(potential)`` loads the model's ``GradientProgram`` (emitted
from the IR by ``zsdsl.compiler.gradient``), binds it to the data once (``make``) and checks value
and gradient against PyTorch autograd at a few points. It returns the potential and how it
evaluates, or None and the exact reason PyTorch stays: the construct without a rule, a layout
that does not match the sampler's, a disagreement, or an error the code raised at a check point.
"""

from __future__ import annotations

import math
import os
import re
import warnings

import numpy as np
import torch

from zsdsl.runtime.generated import load_generated_module

HOW = "emitted straight-line NumPy code (zsdsl compile --emit gradient), checked against PyTorch autograd"
HOW_JIT = "the emitted code compiled by numba (zsdsl compile --emit kernel), checked against PyTorch autograd"
NUTS_JIT = "numba: NUTS compiled with the model's kernel (zsdsl.runtime.mcmc.nuts_jit)"


def numpy_data(data: dict) -> dict:
    """The data as NumPy (float64 reals, int64 integers), as ``make`` reads it."""
    out = {}
    for k, v in data.items():
        if torch.is_tensor(v):
            v = v.detach().cpu().numpy()
            v = v.astype(np.float64) if v.dtype.kind == "f" else v.astype(np.int64) if v.dtype.kind in "iub" else v
        out[k] = v
    return out


class EmittedPotential:
    def __init__(self, program, potential):
        self.source = program.source
        names = tuple(name for name, *_ in potential._flat)
        if tuple(program.sites) != names:
            raise LayoutError(f"the emitted sites {program.sites} are not the sampler's {names}")
        module = load_generated_module(program.source, f"{potential.model.name}.gradient")
        # an overflow in the fast variant's array maths gives IEEE values (a divergence for the sampler), as
        # the safe variant's errstate does: not a warning per point (np.errstate would cost more than the
        # gradient of a small model); the filter is per module, free at each call
        warnings.filterwarnings("ignore", category=RuntimeWarning, module=re.escape(module.__name__))
        self._fn, dim, kernel_args = module.make(numpy_data(potential.data), dict(potential.model.dims))
        if dim != potential.dim:
            raise LayoutError(f"the emitted code's vector has {dim} values; the sampler's has {potential.dim}")
        self.dim = dim
        self.kernel_args, self._module, self._nuts = kernel_args, None, None
        self.jit, self.jit_reason = False, program.kernel_reason
        if program.kernel is not None:
            self.jit, self.jit_reason = self._compile(program.kernel, kernel_args, potential.dim)

    def _compile(self, text: str, args: tuple, dim: int) -> tuple[bool, str]:
        """Put the numba kernel in place of the NumPy function, or say why not (the NumPy path stays)."""
        if os.environ.get("ZSDSL_JIT", "1") == "0":
            return False, "ZSDSL_JIT=0 is set"
        try:
            from zsdsl.runtime.lib.kernel_cache import compile_module
            from zsdsl.runtime.mcmc.nuts_jit import SAMPLER_FUNCTIONS, sampler_module

            # the kernel's module with NUTS after it: compiled lazily, function by function (NUTS only if it runs)
            self._module = compile_module(sampler_module(text), ("kernel", *(f.__name__ for f in SAMPLER_FUNCTIONS)))
            kernel = self._module.kernel
            with warnings.catch_warnings():  # numba's advice (e.g. '@' on a transposed view) is not the user's
                warnings.simplefilter("ignore")
                kernel(np.zeros(dim), *args)  # compiles now (or loads the cached machine code), before chains fork
        except np.linalg.LinAlgError:
            pass  # compiled; this point is only not positive definite
        except Exception as exc:  # noqa: BLE001 - numba's typing and lowering errors: reported, NumPy stays
            return False, f"numba did not compile the kernel ({numba_message(exc)})"
        reject = (math.inf, np.zeros(dim))

        def value_and_grad(z):
            try:
                return kernel(z, *args)
            except np.linalg.LinAlgError:  # not positive definite here: Stan rejects the point
                return reject[0], reject[1].copy()

        self._fn = value_and_grad
        return True, ""

    def nuts_step(self) -> tuple[object | None, str]:
        """NUTS's transition compiled with the kernel (``nuts_jit.nuts_step``), compiled here (before chains
        fork; seconds on a model's first run, then loaded from the cache), or None and why not."""
        if self._nuts is None:
            if not self.jit:
                self._nuts = (None, "the gradient is not numba's kernel")
            elif os.environ.get("ZSDSL_JIT_NUTS", "1") == "0":
                self._nuts = (None, "ZSDSL_JIT_NUTS=0 is set")
            else:
                self._nuts = self._warm_nuts()
        return self._nuts

    def _warm_nuts(self) -> tuple[object | None, str]:
        z = np.zeros(self.dim)
        U, g = self.value_and_grad(z)
        ones = np.ones(self.dim)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self._module.nuts_step(z, U, g, 1e-3, ones, ones, np.random.default_rng(0), 1, 1000.0,
                                       self.kernel_args)  # fmt: skip
        except Exception as exc:  # noqa: BLE001 - as for the kernel: the Python tree stays, with numba's reason
            return None, f"numba did not compile NUTS with the kernel ({numba_message(exc)})"
        return self._module.nuts_step, NUTS_JIT

    @property
    def how(self) -> str:
        """How this potential evaluates, as ``build_with_reason`` reports it."""
        if self.jit:
            return HOW_JIT
        return HOW + (f"; not compiled by numba: {self.jit_reason}" if self.jit_reason else "")

    def value_and_grad(self, z: np.ndarray) -> tuple[float, np.ndarray]:
        U, grad = self._fn(z)
        return float(U), grad

    @classmethod
    def build_with_reason(cls, potential, points: int = 3, seed: int = 0) -> tuple[EmittedPotential | None, str]:
        program = getattr(potential.model, "gradient_program", None)
        if potential.enum:
            return None, "the model has an enumerated site (summed out by the PyTorch path only)"
        if potential.dim == 0:
            return None, "the model has no continuous latents"
        if program is None:
            return None, "the model was not compiled with an emitted gradient"
        if program.source is None:
            return None, program.reason
        try:
            me = cls(program, potential)
        except LayoutError as exc:
            return None, f"the emitted gradient does not fit this model's layout ({exc})"
        except Exception as exc:  # noqa: BLE001 - a defect of the emitted code: reported, PyTorch stays
            return None, f"the emitted gradient failed on this data ({type(exc).__name__}: {exc})"
        rng = np.random.default_rng(seed)
        tol = 1e-9 if torch.get_default_dtype() == torch.float64 else 1e-4
        compared, tried = 0, 0
        rejections = potential.rejections.copy()  # failed ODE solves at check points are not the sampler's
        while compared < points and tried < 4 * points:  # points where the density is finite, if some are
            tried += 1
            z = rng.uniform(-2, 2, potential.dim)
            U_t, g_t = potential._torch_value_and_grad(z)
            potential.rejections = rejections.copy()
            if not (math.isfinite(U_t) and np.isfinite(g_t).all()):
                continue
            try:
                U_e, g_e = me.value_and_grad(z)
            except Exception as exc:  # noqa: BLE001 - reported as the reason, never taken as agreement
                return None, f"the emitted gradient raised {type(exc).__name__} at a check point: {exc}"
            scale = max(1.0, abs(U_t))
            if abs(U_e - U_t) > tol * scale or not np.allclose(g_e, g_t, rtol=100 * tol, atol=tol * scale):
                worst = int(np.argmax(np.abs(g_e - g_t)))
                detail = f"U {U_e!r} against {U_t!r}; dU/dz[{worst}] {g_e[worst]!r} against {g_t[worst]!r}"
                return None, f"the emitted gradient disagreed with PyTorch autograd at a check point ({detail})"
            compared += 1
        if not compared:
            return None, "no check point had a finite log density to compare the emitted gradient at"
        return me, me.how


def numba_message(exc: Exception) -> str:
    """numba's error in one line: its first line that says what failed, and the kernel's line number."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(exc))
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    i = next((i for i, line in enumerate(lines) if not line.startswith(("Failed in", "During:", ">>>"))), None)
    what = "" if i is None else lines[i]
    if what.endswith(":") and i + 1 < len(lines):  # "No implementation of function ... for signature:" and it
        what += " " + lines[i + 1].removeprefix(">>>").strip()
    where = re.search(r"zsdsl_kernel_\w+\.py\", line (\d+)", text)
    at = f" at the kernel's line {where.group(1)}" if where else ""
    return f"{type(exc).__name__}{at}: {what}" if what else type(exc).__name__


class LayoutError(Exception):
    """The emitted code and the sampler disagree about the unconstrained vector."""
