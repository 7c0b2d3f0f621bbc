"""Automatic guides over the joint unconstrained vector of all (global, continuous) latents:
full-rank Gaussian (``auto-mvn``), planar flows (``auto-planar``, Rezende & Mohamed 2015,
"Variational Inference with Normalizing Flows") and inverse autoregressive flows
(``auto-iaf``, Kingma et al. 2016, "Improved Variational Inference with Inverse
Autoregressive Flow"). Draws are split into sites and mapped through each site's bijector.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from zsdsl.errors import ModelError
from zsdsl.runtime.vi.site_checks import require_global_continuous


class FlatGuide(nn.Module):
    """Packs the sites' unconstrained values into one vector of size D; subclasses give the density."""

    decomposes = False  # its log-density does not split over a plate

    def __init__(self, sites):
        super().__init__()
        self.sites = list(sites)
        self.slots = []
        offset = 0
        for s in self.sites:
            require_global_continuous(s, self.name)
            shape = tuple(s.bijector.unconstrained_shape(tuple(s.shape)))
            size = math.prod(shape)
            self.slots.append((s, shape, offset, size))
            offset += size
        self.dim = offset

    def start_at(self, starts: dict) -> None:
        """Centre the base distribution at unconstrained values per site."""
        with torch.no_grad():
            for s, _shape, offset, size in self.slots:
                self.loc[offset : offset + size] = starts[s.name].reshape(-1)

    def flow(self, sample_shape) -> tuple[torch.Tensor, torch.Tensor]:
        """A draw u of shape [*sample_shape, D] and log q(u)."""
        raise NotImplementedError

    def sample_and_log_prob(self, data, sample_shape=(), subsample=None, per_site=False, keep=None, values=None):
        if values:
            raise ModelError(f"The {self.name} guide cannot score given values; use sgvb, iwae, vimco or nvil.")
        u, log_q = self.flow(tuple(sample_shape))
        out = {}
        for s, shape, offset, size in self.slots:
            us = u[..., offset : offset + size].reshape(*sample_shape, *shape)
            out[s.name] = s.bijector.forward(us)
            ladj = s.bijector.log_abs_det_jacobian(us)
            log_q = log_q - ladj.reshape(*sample_shape, -1).sum(-1)
        terms = {"_joint": log_q}
        zero = torch.zeros(())
        return out, ((log_q, terms) if per_site else log_q), zero


class AutoMVN(FlatGuide):
    """Full-rank Gaussian in unconstrained space (ADVI's full-rank family). The Cholesky factor is
    ``diag(scale) @ U`` with U unit lower-triangular (Pyro's parametrisation): an optimizer step on
    U moves each row in proportion to its scale, so a small ``init_scale`` stays small."""

    name = "auto-mvn"

    def __init__(self, sites, init_scale: float = 0.1):
        super().__init__(sites)
        self.loc = nn.Parameter(torch.zeros(self.dim))
        self.log_scale = nn.Parameter(torch.full((self.dim,), math.log(init_scale)))
        self.unit_tril = nn.Parameter(torch.zeros(self.dim * (self.dim - 1) // 2))  # U's strictly lower part

    def scale_tril(self) -> torch.Tensor:
        rows, cols = torch.tril_indices(self.dim, self.dim, -1)
        U = torch.eye(self.dim, dtype=self.loc.dtype).index_put((rows, cols), self.unit_tril)
        return self.log_scale.exp().unsqueeze(-1) * U

    def flow(self, sample_shape):
        L = self.scale_tril()
        eps = torch.randn(*sample_shape, self.dim, dtype=L.dtype)
        u = self.loc + eps @ L.T
        log_q = (-0.5 * eps.pow(2) - 0.5 * math.log(2 * math.pi)).sum(-1) - self.log_scale.sum()
        return u, log_q


class _DiagBase(FlatGuide):
    def __init__(self, sites, init_scale: float = 0.1):
        super().__init__(sites)
        self.loc = nn.Parameter(torch.zeros(self.dim))
        self.log_scale = nn.Parameter(torch.full((self.dim,), math.log(init_scale)))

    def base(self, sample_shape):
        eps = torch.randn(*sample_shape, self.dim, dtype=self.loc.dtype)
        z = self.loc + self.log_scale.exp() * eps
        log_q = (-0.5 * eps.pow(2) - 0.5 * math.log(2 * math.pi) - self.log_scale).sum(-1)
        return z, log_q


class AutoPlanar(_DiagBase):
    """A diagonal Gaussian followed by K planar layers z + û·tanh(w·z + b)."""

    name = "auto-planar"

    def __init__(self, sites, layers: int = 4, init_scale: float = 0.1):
        super().__init__(sites, init_scale)
        g = torch.Generator().manual_seed(0)
        self.u = nn.Parameter(0.01 * torch.randn(layers, self.dim, generator=g))
        self.w = nn.Parameter(0.01 * torch.randn(layers, self.dim, generator=g))
        self.b = nn.Parameter(torch.zeros(layers))

    def flow(self, sample_shape):
        z, log_q = self.base(sample_shape)
        for k in range(self.u.shape[0]):
            w, u, b = self.w[k], self.u[k], self.b[k]
            wu = (w * u).sum()
            u_hat = u + (F.softplus(wu) - 1 - wu) * w / (w.pow(2).sum() + 1e-12)  # keeps the layer invertible
            a = z @ w + b
            z = z + u_hat * torch.tanh(a).unsqueeze(-1)
            psi = (1 - torch.tanh(a).pow(2)).unsqueeze(-1) * w
            log_q = log_q - torch.log((1 + psi @ u_hat).abs() + 1e-12)
        return z, log_q


class _MADE(nn.Module):
    """A one-hidden-layer masked autoencoder (Germain et al. 2015) giving autoregressive (m, s)."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.l1 = nn.Linear(dim, hidden)
        self.l2 = nn.Linear(hidden, 2 * dim)
        deg_in = torch.arange(1, dim + 1)
        deg_h = torch.arange(hidden) % max(dim - 1, 1) + 1
        self.register_buffer("m1", (deg_h[:, None] >= deg_in[None, :]).to(torch.get_default_dtype()))
        m2 = (deg_in[:, None] > deg_h[None, :]).to(torch.get_default_dtype())
        self.register_buffer("m2", torch.cat([m2, m2], 0))
        nn.init.zeros_(self.l2.weight)
        nn.init.zeros_(self.l2.bias)

    def forward(self, z):
        h = F.elu(F.linear(z, self.l1.weight * self.m1, self.l1.bias))
        out = F.linear(h, self.l2.weight * self.m2, self.l2.bias)
        return out.chunk(2, -1)


class AutoIAF(_DiagBase):
    """A diagonal Gaussian followed by K inverse autoregressive layers z ← σ·z + (1−σ)·m."""

    name = "auto-iaf"

    def __init__(self, sites, layers: int = 2, hidden: int | None = None, init_scale: float = 0.1):
        super().__init__(sites, init_scale)
        hidden = hidden or max(2 * self.dim, 8)
        self.mades = nn.ModuleList(_MADE(self.dim, hidden) for _ in range(layers))

    def start_at(self, starts: dict) -> None:
        """At initialisation (m = s = 0) each layer scales z by σ(1.5), so the base loc is divided by that."""
        super().start_at(starts)
        with torch.no_grad():
            self.loc /= torch.sigmoid(torch.tensor(1.5)) ** len(self.mades)

    def flow(self, sample_shape):
        z, log_q = self.base(sample_shape)
        for k, made in enumerate(self.mades):
            if k % 2:
                z = z.flip(-1)  # alternate the autoregressive order (a volume-preserving permutation)
            m, s = made(z)
            sigma = torch.sigmoid(s + 1.5)  # starts near the identity (Kingma et al.'s forget-gate bias)
            z = sigma * z + (1 - sigma) * m
            log_q = log_q - torch.log(sigma).sum(-1)
            if k % 2:
                z = z.flip(-1)
        return z, log_q
