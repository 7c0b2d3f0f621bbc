"""The potential energy U(u) = −log p(x, T(u)) − log|det J_T(u)| over one flat unconstrained vector.

All continuous latents are packed into ``u`` (sites in order, each through its bijector to
its constrained value); ``value_and_grad`` is the hot path of HMC/NUTS.
"""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import torch

from zsdsl.errors import ModelError
from zsdsl.runtime.lib.bijectors import Identity
from zsdsl.runtime.lib.ode import SolverFailure


class Potential:
    def __init__(self, model, data: dict, sites=None):
        self.model = model
        self.data = data
        self.sites = list(sites if sites is not None else model.sites(data))
        self.slots = []
        self.enum = []  # (site, number of values) of the discrete sites summed out
        offset = 0
        for s in self.sites:
            if s.discrete and s.enumerate:
                self.enum.append(_enumerable(s))
                continue
            if s.discrete:
                raise ModelError(
                    f"The latent '{s.name}' is discrete; HMC and NUTS need continuous latents. Mark it "
                    "'enumerate' to sum it out, write the sum with a factor (log_mix), or fit the model with "
                    "variational inference."
                )
            shape = tuple(s.bijector.unconstrained_shape(tuple(s.shape)))
            size = math.prod(shape)
            self.slots.append((s, shape, offset, size))
            offset += size
        self.dim = offset
        self.rejections: Counter = Counter()  # points rejected for a failed ODE solve, by reason
        if len(self.enum) > 1:
            names = ", ".join(s.name for s, _ in self.enum)
            raise ModelError(f"HMC and NUTS sum out one enumerated site per model; this one has {names}.")
        self._compiled = None
        self._numpy = None  # an EmittedPotential once built (see ``backend``)
        self._numpy_tried = False
        self._numpy_reason = ""
        self.minibatch_reason = ""  # set by SG-MCMC over subsampled plates: its gradients are PyTorch's
        self.batched_reason = ""  # set by --chain-method vectorized: batched autograd over all chains
        self._flat = [(s.name, s.bijector, shape, offset, size, not isinstance(s.bijector, Identity))
                      for s, shape, offset, size in self.slots]  # fmt: skip

    def _sum_out(self, terms: dict) -> tuple[torch.Tensor, dict]:
        """log Σ_k exp(terms that vary with the enumerated value k), per element of its plate; the
        terms that do not vary are returned for the caller to add."""
        site, K = self.enum[0]
        plate = site.plates[0] if site.plates else None
        dependent, rest = None, {}
        for name, t in terms.items():
            plates = self.model.term_plates.get(name, ())
            if not torch.is_tensor(t) or t.dim() != len(plates) + 1:
                rest[name] = t
                continue
            if plate is None:
                t = t.reshape(K, -1).sum(-1)
            elif plate not in plates:
                raise ModelError(f"The term of '{name}' depends on the enumerated '{site.name}' outside its plate "
                                 f"'{plate}'; HMC and NUTS can sum out a site only within its plate.")  # fmt: skip
            else:
                pos = plates.index(plate)
                dims = tuple(1 + i for i in range(len(plates)) if i != pos)
                t = t.sum(dims) if dims else t
            dependent = t if dependent is None else dependent + t
        if dependent is None:
            return torch.zeros(()), rest
        return torch.logsumexp(dependent, 0).sum(), rest

    def enum_placeholders(self, lead: tuple) -> dict:
        """Zeros for the enumerated sites, to evaluate the deterministics that do not depend on them."""
        return {s.name: torch.zeros((*lead, *s.shape), dtype=torch.long) for s, _ in self.enum}

    def constrain(self, u: torch.Tensor) -> tuple[dict, torch.Tensor]:
        """Constrained values (leading dims of ``u`` kept) and the summed log-Jacobian."""
        lead = u.shape[:-1]
        values, ladj = {}, torch.zeros(lead, dtype=u.dtype)
        for s, shape, offset, size in self.slots:
            us = u[..., offset : offset + size].reshape(tuple(lead) + shape)
            values[s.name] = s.bijector.forward(us)
            ladj = ladj + s.bijector.log_abs_det_jacobian(us).reshape(*lead, -1).sum(-1)
        return values, ladj

    def unconstrain(self, values: dict) -> torch.Tensor:
        parts = []
        for s, shape, _, size in self.slots:
            u = s.bijector.inverse(values[s.name])
            parts.append(u.reshape(*u.shape[: u.dim() - len(shape)], size))
        return torch.cat(parts, -1)

    def log_density(self, u: torch.Tensor) -> torch.Tensor:
        if u.dim() == 1:
            return self._log_density_flat(u)
        if self.enum:  # one point at a time: the enumeration dim goes where sample dims would
            lead = u.shape[:-1]
            flat = u.reshape(-1, u.shape[-1])
            return torch.stack([self._log_density_flat(row) for row in flat]).reshape(lead)
        values, ladj = self.constrain(u)
        return self.model.log_joint(values, self.data) + ladj

    def _log_density_flat(self, u: torch.Tensor, subsample: dict | None = None) -> torch.Tensor:
        """The hot path for one point: views of ``u`` per site, one sum per term, nothing else."""
        values, total = {}, None
        for name, bij, shape, offset, size, jac in self._flat:
            if not shape:
                us = u[offset]
            else:
                us = u[offset : offset + size]
                if len(shape) > 1 or shape[0] != size:
                    us = us.view(shape)
            values[name] = bij.forward(us)
            if jac:
                ladj = bij.log_abs_det_jacobian(us)
                ladj = ladj.sum() if ladj.dim() else ladj
                total = ladj if total is None else total + ladj
        if self.enum:
            site, K = self.enum[0]
            shape = tuple(site.shape)
            values[site.name] = torch.arange(K).reshape((K,) + (1,) * len(shape)).expand((K, *shape))
        terms, _ = self.model.log_terms(values, self.data, subsample)
        if self.enum:
            marginal, terms = self._sum_out(terms)
            total = marginal if total is None else total + marginal
        for t in terms.values():
            if not torch.is_tensor(t):
                t = torch.as_tensor(t, dtype=u.dtype)
            t = t.sum() if t.dim() else t
            total = t if total is None else total + t
        return total if total is not None else u.new_zeros(())

    def __call__(self, u: torch.Tensor) -> torch.Tensor:
        return -self.log_density(u)

    def compile(self) -> bool:
        """Compile value-and-gradient with ``torch.compile`` (TorchInductor): one fused kernel
        instead of an eager autograd graph, ~10x fewer microseconds per call on small models, for
        a one-off compilation of several seconds (cached on disk across processes). Falls back to
        eager evaluation, with a warning, where compilation fails; returns whether it is on."""
        import warnings

        def neg_log_density(u):
            return -self._log_density_flat(u)

        try:
            import torch._inductor.config as inductor_config

            inductor_config.compile_threads = 1  # no compile worker pool: chains run in forked processes
            fn = torch.compile(torch.func.grad_and_value(neg_log_density), dynamic=False)
            z = torch.zeros(self.dim, dtype=torch.float64)
            _, g_ref = self.value_and_grad(z)  # eager first: transformed data is cached outside the trace
            g, U = fn(z)
            if not torch.allclose(g, g_ref, rtol=1e-6, atol=1e-8, equal_nan=True):
                raise RuntimeError("the compiled gradient differs from the eager one")
        except Exception as exc:  # noqa: BLE001 - any failure leaves the eager path in place
            warnings.warn(f"torch.compile is not available for this model ({type(exc).__name__}: {exc}); "
                          "running eagerly.", stacklevel=2)  # fmt: skip
            self._compiled = None
            return False
        self._compiled = fn
        return True

    @property
    def backend(self) -> str:
        """What evaluates ``value_and_grad_np`` on the whole data: ``compiled`` (torch.compile),
        ``numba`` (the compiler's emitted code compiled by numba), ``numpy`` (the same code run by NumPy, where
        numba does not take it) or ``torch`` (autograd)."""
        if self._compiled is not None:
            return "compiled"
        if self.minibatch_reason or self.batched_reason:
            return "torch"
        if not self._numpy_tried:
            self._numpy, self._numpy_reason = self._build_numpy()
            self._numpy_tried = True
        if self._numpy is None:
            return "torch"
        return "numba" if self._numpy.jit else "numpy"

    def _build_numpy(self):
        """The compiler's emitted NumPy gradient, checked against autograd; or None and the reason."""
        import os

        from zsdsl.runtime.mcmc.emitted_potential import EmittedPotential

        if os.environ.get("ZSDSL_NUMPY_POTENTIAL", "1") == "0":
            return None, "ZSDSL_NUMPY_POTENTIAL=0 is set"
        return EmittedPotential.build_with_reason(self)

    @property
    def kernel_args(self) -> tuple:
        """What numba's kernel takes after z (the data-only values of the emitted ``make``)."""
        return self._numpy.kernel_args

    def nuts_tree(self, dense: bool = False) -> tuple[object | None, str]:
        """NUTS's transition compiled by numba with the gradient kernel, or None and why the Python tree
        (``nuts.nuts_transition``) runs; the same draws either way. ``dense``: the metric is dense."""
        if self.batched_reason:
            return None, "vectorized: every chain's tree built in lockstep, one batched gradient call per leapfrog"
        if dense:
            return None, "python: a dense metric"
        if self.backend != "numba":
            return None, f"python: the gradients are {self.backend}'s"
        step, why = self._numpy.nuts_step()
        return step, why if step is not None else f"python: {why}"

    @property
    def backend_reason(self) -> str:
        """Why ``backend`` is what it is (a sentence): how the NumPy path runs, or why PyTorch stays."""
        backend = self.backend
        if backend == "compiled":
            return "torch.compile of the log density (--compile)"
        return self.batched_reason or self.minibatch_reason or self._numpy_reason or "PyTorch autograd"

    @property
    def gradient_source(self) -> str | None:
        """The emitted NumPy code of the potential and its gradient, where that path is used."""
        if self.backend not in ("numpy", "numba"):
            return None
        return self._numpy.source

    def value_and_grad_np(self, z: np.ndarray, subsample: dict | None = None) -> tuple[float, np.ndarray]:
        """``value_and_grad`` on a float64 NumPy vector (the samplers' representation); with
        ``subsample`` (plate -> minibatch indices) the N/B-scaled minibatch estimate."""
        if subsample is None:
            backend = self.backend
            if backend in ("numpy", "numba"):
                try:
                    return self._numpy.value_and_grad(z)
                except SolverFailure as err:
                    return self._rejected(err, z)
            if backend == "compiled":
                try:
                    g, U = self._compiled(torch.from_numpy(z))
                    return U.item(), g.numpy()
                except torch.linalg.LinAlgError:
                    return math.inf, np.zeros_like(z)
        return self._torch_value_and_grad(z, subsample)

    def _torch_value_and_grad(self, z: np.ndarray, subsample: dict | None = None) -> tuple[float, np.ndarray]:
        try:
            u = torch.from_numpy(z).requires_grad_(True)
            U = -self._log_density_flat(u, subsample)
            (g,) = torch.autograd.grad(U, u)
            return U.item(), g.numpy()
        except torch.linalg.LinAlgError:
            # e.g. a covariance that is not positive definite at this point: Stan rejects the
            # point (infinite energy), which NUTS records as a divergence
            return math.inf, np.zeros_like(z)
        except SolverFailure as err:
            return self._rejected(err, z)

    def _rejected(self, err: SolverFailure, z: np.ndarray) -> tuple[float, np.ndarray]:
        """An ODE solve that did not finish: the point is rejected (infinite energy) and counted, as in Stan."""
        self.rejections[err.reason] += 1
        return math.inf, np.zeros_like(z)

    def value_and_grad(self, u: torch.Tensor) -> tuple[float, torch.Tensor]:
        u = u.detach().requires_grad_(True)
        U = -self.log_density(u)
        (g,) = torch.autograd.grad(U, u)
        return float(U.detach()), g


def _enumerable(site) -> tuple:
    if site.enum_size is None:
        raise ModelError(f"The latent '{site.name}' cannot be enumerated: HMC and NUTS sum out Bernoulli and "
                         "Categorical sites.")  # fmt: skip
    if len(site.plates) > 1:
        raise ModelError(f"The enumerated latent '{site.name}' lies in {len(site.plates)} plates; HMC and NUTS sum "
                         "out a site in at most one plate.")  # fmt: skip
    if len(site.shape) != len(site.plates):
        raise ModelError(f"The enumerated latent '{site.name}' must be one scalar per plate element.")
    return site, int(site.enum_size)
