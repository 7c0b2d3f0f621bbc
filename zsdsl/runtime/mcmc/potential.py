"""The potential energy U(u) = −log p(x, T(u)) − log|det J_T(u)| over one flat unconstrained vector.

All continuous latents are packed into ``u`` (sites in order, each through its bijector to
its constrained value); ``value_and_grad`` is the hot path of HMC/NUTS.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from zsdsl.errors import UsageError
from zsdsl.runtime.lib.bijectors import Identity


class Potential:
    def __init__(self, model, data: dict, sites=None):
        self.model = model
        self.data = data
        self.sites = list(sites if sites is not None else model.sites(data))
        self.slots = []
        offset = 0
        for s in self.sites:
            if s.discrete:
                raise UsageError(
                    f"The latent '{s.name}' is discrete; HMC and NUTS need continuous latents. "
                    "Sum it out with a factor (log_mix) or fit the model with variational inference."
                )
            shape = tuple(s.bijector.unconstrained_shape(tuple(s.shape)))
            size = math.prod(shape)
            self.slots.append((s, shape, offset, size))
            offset += size
        self.dim = offset
        self._flat = [(s.name, s.bijector, shape, offset, size, not isinstance(s.bijector, Identity))
                      for s, shape, offset, size in self.slots]  # fmt: skip

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
        terms, _ = self.model._model(values, self.data, subsample)
        for t in terms.values():
            if not torch.is_tensor(t):
                t = torch.as_tensor(t, dtype=u.dtype)
            t = t.sum() if t.dim() else t
            total = t if total is None else total + t
        return total if total is not None else u.new_zeros(())

    def __call__(self, u: torch.Tensor) -> torch.Tensor:
        return -self.log_density(u)

    def value_and_grad_np(self, z: np.ndarray, subsample: dict | None = None) -> tuple[float, np.ndarray]:
        """``value_and_grad`` on a float64 NumPy vector (the samplers' representation); with
        ``subsample`` (plate -> minibatch indices) the N/B-scaled minibatch estimate."""
        u = torch.from_numpy(z).requires_grad_(True)
        U = -self._log_density_flat(u, subsample)
        (g,) = torch.autograd.grad(U, u)
        return U.item(), g.numpy()

    def value_and_grad(self, u: torch.Tensor) -> tuple[float, torch.Tensor]:
        u = u.detach().requires_grad_(True)
        U = -self.log_density(u)
        (g,) = torch.autograd.grad(U, u)
        return float(U.detach()), g
