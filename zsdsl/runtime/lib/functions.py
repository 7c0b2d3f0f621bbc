"""Builtin functions called by generated code (``zl.NAME``), acting on trailing element dims.

Layout: tensors are ``[*sample, *plates, *elem]``; the compiler passes element ranks where
a function needs them (reductions, gathers), and every function broadcasts leading dims.
Arguments may be Python numbers or tensors.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def _t(x):
    if torch.is_tensor(x):
        return x if x.is_floating_point() else x.to(torch.get_default_dtype())
    return torch.as_tensor(x, dtype=torch.get_default_dtype())


def as_tensor(x):
    """A floating tensor of the default dtype (parameter initial values)."""
    return _t(x)


def _unary(fn):
    def apply(x):
        return fn(_t(x))

    apply.__name__ = fn.__name__
    return apply


def to_real(x):
    """Comparisons (bool) and integers as floating values, like Stan's implicit promotion."""
    return _t(x)


exp = _unary(torch.exp)
log = _unary(torch.log)
log10 = _unary(torch.log10)
log2 = _unary(torch.log2)
log1p = _unary(torch.log1p)
expm1 = _unary(torch.expm1)
sqrt = _unary(torch.sqrt)
square = _unary(torch.square)
sin = _unary(torch.sin)
cos = _unary(torch.cos)
tanh = _unary(torch.tanh)
sigmoid = _unary(torch.sigmoid)
inv_logit = sigmoid
logit = _unary(torch.logit)
softplus = _unary(F.softplus)
relu = _unary(torch.relu)
log_sigmoid = _unary(F.logsigmoid)
lgamma = _unary(torch.lgamma)
digamma = _unary(torch.digamma)
erf = _unary(torch.erf)


def abs(x):  # noqa: A001 - the spec's name
    return torch.abs(x) if torch.is_tensor(x) else torch.abs(_t(x))


def pow(a, b):  # noqa: A001
    return torch.pow(_t(a), b if not torch.is_tensor(b) else _t(b))


def minimum(a, b):
    return torch.minimum(_t(a), _t(b))


def maximum(a, b):
    return torch.maximum(_t(a), _t(b))


def where(cond, a, b):
    cond = cond if torch.is_tensor(cond) else torch.as_tensor(cond)
    return torch.where(cond if cond.dtype == torch.bool else cond != 0, _t(a), _t(b))


def log_sum_exp(a, b):
    return torch.logaddexp(_t(a), _t(b))


def log_mix(theta, lp1, lp2):
    """Stan's log_mix: log(θ·exp(lp1) + (1−θ)·exp(lp2)), computed stably."""
    theta = _t(theta)
    return torch.logaddexp(torch.log(theta) + _t(lp1), torch.log1p(-theta) + _t(lp2))


# ---------------------------------------------------------------- reductions and scans
# A reduction either takes the last ``ndims`` dims (all element dims: the compiler passes their number)
# or one dim ``axis`` (negative, counted from the end: the spec's dim=, wherever sample and plate dims lead).


def _dims(ndims: int):
    return tuple(range(-ndims, 0))


def _flat(x, ndims, axis):
    """x with the reduced dims as its last dim (one dim for prod/max/min, which take a single dim)."""
    return x.movedim(axis, -1) if axis is not None else x.flatten(-ndims)


def sum(x, ndims=0, axis=None):  # noqa: A001
    if axis is not None:
        return x.sum(axis)
    return x.sum(_dims(ndims)) if ndims else x


def mean(x, ndims=0, axis=None):
    if axis is not None:
        return _t(x).mean(axis)
    return _t(x).mean(_dims(ndims)) if ndims else _t(x)


def prod(x, ndims=0, axis=None):
    x = _t(x)
    return _flat(x, ndims, axis).prod(-1) if ndims or axis is not None else x


def max(x, ndims=0, axis=None):  # noqa: A001
    return _flat(x, ndims, axis).max(-1).values if ndims or axis is not None else x


def min(x, ndims=0, axis=None):  # noqa: A001
    return _flat(x, ndims, axis).min(-1).values if ndims or axis is not None else x


def logsumexp(x, ndims=0, axis=None):
    if axis is not None:
        return torch.logsumexp(_t(x), axis)
    return torch.logsumexp(_t(x), _dims(ndims)) if ndims else _t(x)


def variance(x, ndims=0, axis=None):
    """The sample variance (denominator n - 1), as Stan's variance()."""
    x = _t(x)
    return torch.var(x, dim=axis if axis is not None else _dims(ndims), correction=1)


def sd(x, ndims=0, axis=None):
    """The sample standard deviation (denominator n - 1), as Stan's sd()."""
    return torch.sqrt(variance(x, ndims, axis))


def norm(x, ndims):
    return torch.linalg.vector_norm(_t(x), dim=_dims(ndims)) if ndims else torch.abs(_t(x))


def cumsum(x, axis=-1):
    return torch.cumsum(_t(x), axis)


def softmax(x, axis=-1):
    return torch.softmax(_t(x), axis)


def log_softmax(x, axis=-1):
    return torch.log_softmax(_t(x), axis)


# ---------------------------------------------------------------- constructors


def zeros(*shape):
    return torch.zeros(*[int(s) for s in shape])


def ones(*shape):
    return torch.ones(*[int(s) for s in shape])


def full(*args):
    """full(d1, ..., value): the value (possibly batched) broadcast to trailing shape (d1, ...)."""
    *shape, value = args
    shape = [int(s) for s in shape]
    value = _t(value)
    return value.reshape(*value.shape, *([1] * len(shape))).expand(*value.shape, *shape)


def eye(n):
    return torch.eye(int(n))


def arange(n):
    return torch.arange(int(n))


def _broadcast_lead(xs, keep: int):
    """Broadcast all but the last ``keep`` dims of each tensor."""
    lead = torch.broadcast_shapes(*[x.shape[: x.dim() - keep] for x in xs])
    return [x.expand(*lead, *x.shape[x.dim() - keep :]) for x in xs]


def concat(*xs):
    xs = [_t(x) for x in xs]
    return torch.cat(_broadcast_lead(xs, 1), -1)


def stack(*xs):
    xs = [_t(x) for x in xs]
    shape = torch.broadcast_shapes(*[x.shape for x in xs])
    return torch.stack([x.expand(shape) for x in xs], -1)


def stack_before(r: int, *xs):
    """A list literal of values of element rank ``r``: the new dim before their element dims."""
    return stack_along([_t(x) for x in xs], r)


def stack_along(xs: list, r: int):
    """Tensors broadcast to one shape and stacked with the new dim before their last ``r`` (element) dims."""
    shape = torch.broadcast_shapes(*[x.shape for x in xs])
    return torch.stack([x.expand(shape) for x in xs], len(shape) - r)


def one_hot(idx, k):
    return F.one_hot(idx.long(), int(k)).to(torch.get_default_dtype())


# ---------------------------------------------------------------- linear algebra


def dot(a, b):
    """Sum over the last dim of ``a * b`` (broadcast); a row of matrix rows times one vector is a matmul."""
    a, b = _t(a), _t(b)
    if b.dim() == 1 and a.dim() >= 2:
        return a @ b
    if a.dim() == 1 and b.dim() >= 2:
        return b @ a
    if a.dim() >= 2 and b.dim() >= 2:
        if b.shape[-2] == 1 and a.shape[-2] != 1:
            return (a @ b.transpose(-1, -2)).squeeze(-1)
        if a.shape[-2] == 1 and b.shape[-2] != 1:
            return (b @ a.transpose(-1, -2)).squeeze(-1)
    return (a * b).sum(-1)


def matvec(A, x):
    return (_t(A) @ _t(x).unsqueeze(-1)).squeeze(-1)


def vecmat(x, A):
    return (_t(x).unsqueeze(-2) @ _t(A)).squeeze(-2)


def matmul(A, B):
    return _t(A) @ _t(B)


def cholesky(A):
    return torch.linalg.cholesky(A)


def transpose(A):
    return A.transpose(-1, -2)


def diag(v):
    return torch.diag_embed(_t(v))


def inverse(A):
    return torch.linalg.inv(A)


def log_determinant(A):
    return torch.linalg.slogdet(A).logabsdet


def _is_matrix(A, b, b_rank):
    # Without b_rank, guess from the ranks: wrong when b carries more leading (sample) dims than A.
    return b.dim() >= A.dim() if b_rank is None else b_rank == 2


def solve(A, b, b_rank: int | None = None):
    """A⁻¹ b for a vector b ``[..., n]`` (``b_rank=1``) or a matrix b ``[..., n, k]`` (``b_rank=2``).

    Leading dims broadcast. Pass ``b_rank``: guessing it from ``b.dim()`` against ``A.dim()``
    misreads a vector with sample dims as a matrix when A has none.
    """
    A, b = _t(A), _t(b)
    if _is_matrix(A, b, b_rank):
        return torch.linalg.solve(A, b)
    return torch.linalg.solve(A, b.unsqueeze(-1)).squeeze(-1)


def tril_solve(L, b, b_rank: int | None = None):
    """L⁻¹ b for lower-triangular L ``[..., n, n]``; b a vector or a matrix (``b_rank`` 1 or 2) as in ``solve``."""
    L, b = _t(L), _t(b)
    if _is_matrix(L, b, b_rank):
        return torch.linalg.solve_triangular(L, b, upper=False)
    return torch.linalg.solve_triangular(L, b.unsqueeze(-1), upper=False).squeeze(-1)


# ---------------------------------------------------------------- Gaussian processes


def _sqdist(x1, x2):
    """|x1_i − x2_j|² for points in the last dim. With more than one coordinate, as |a|² + |b|² − 2 a·b
    (one matmul; the [N, M, D] differences and their gradient cost 5x more for N = 455, D = 13),
    clamped at 0 against rounding; with one, the differences (exact, and as cheap)."""
    if x1.shape[-1] == 1:
        return (x1.unsqueeze(-2) - x2.unsqueeze(-3)).pow(2).sum(-1)
    cross = x1 @ x2.transpose(-1, -2)
    return (x1.pow(2).sum(-1).unsqueeze(-1) + x2.pow(2).sum(-1).unsqueeze(-2) - 2 * cross).clamp_min(0.0)


def exp_quad_kernel(x1, x2, alpha, rho, points_rank: int = 0):
    """Stan's gp_exp_quad_cov: α² exp(−|x1_i − x2_j|² / (2ρ²)); 1-D points [..., N] or [..., N, D]."""
    x1, x2 = _t(x1), _t(x2)
    if points_rank == 0:
        x1, x2 = x1.unsqueeze(-1), x2.unsqueeze(-1)
    alpha, rho = _t(alpha)[..., None, None], _t(rho)[..., None, None]
    return alpha.pow(2) * torch.exp(-0.5 * _sqdist(x1, x2) / rho.pow(2))


def ard_kernel(X1, X2, amplitude, lengthscale):
    """amplitude² exp(−½ Σ_d ((x_d − y_d) / l_d)²) for X1 [..., N, D], X2 [..., M, D]."""
    ls = _t(lengthscale)
    if ls.dim() == 0 or ls.shape[-1:] != X1.shape[-1:]:
        ls = ls[..., None]
    ls = ls.unsqueeze(-2)
    return _t(amplitude)[..., None, None].pow(2) * torch.exp(-0.5 * _sqdist(_t(X1) / ls, _t(X2) / ls))


def _cross(x, Z, amplitude, lengthscale, jitter):
    Kzz = ard_kernel(Z, Z, amplitude, lengthscale)
    Kzz = Kzz + _t(jitter)[..., None, None] * torch.eye(Kzz.shape[-1], dtype=Kzz.dtype)
    kxz = ard_kernel(_t(x).unsqueeze(-2), Z, amplitude, lengthscale).squeeze(-2)  # [..., M]
    L = torch.linalg.cholesky(Kzz)
    lead = torch.broadcast_shapes(L.shape[:-2], kxz.shape[:-1])
    L = L.expand(*lead, *L.shape[-2:])
    a = torch.linalg.solve_triangular(L, kxz.expand(*lead, kxz.shape[-1]).unsqueeze(-1), upper=False)
    return L, a  # a = L⁻¹ k_zx


def gp_conditional_mean(x, Z, u, amplitude, lengthscale, jitter=1e-6):
    """k_xZ (K_ZZ + jitter I)⁻¹ u for one input point per element: x [..., D], Z [..., M, D], u [..., M].

    With Z the training inputs, u their targets and ``jitter`` the noise variance σ² (+ a little), this is
    the exact GP's predictive mean at x."""
    L, a = _cross(x, Z, amplitude, lengthscale, jitter)
    u = _t(u)
    lead = torch.broadcast_shapes(L.shape[:-2], u.shape[:-1])
    b = torch.linalg.solve_triangular(
        L.expand(*lead, *L.shape[-2:]), u.expand(*lead, u.shape[-1]).unsqueeze(-1), upper=False
    )
    a = a.expand(*lead, *a.shape[-2:])
    return (a * b).sum((-1, -2))


def gp_conditional_var(x, Z, amplitude, lengthscale, jitter=1e-6):
    """amplitude² − k_xZ (K_ZZ + jitter I)⁻¹ k_Zx, clamped at 0 (with ``jitter`` = σ²: the exact GP's
    predictive variance of f(x))."""
    _, a = _cross(x, Z, amplitude, lengthscale, jitter)
    var = _t(amplitude).pow(2) - a.pow(2).sum((-1, -2))
    return var.clamp_min(0.0)


# ---------------------------------------------------------------- indexing


def gather(x, r: int, pos: int, idx, q: int = 0):
    """Per batch element, ``x_elem[..., idx, ...]`` at element axis ``pos``.

    ``x`` has element rank ``r``; ``idx`` is integer with element rank ``q``. The result's
    element shape is ``x.elem[:pos] + idx.elem + x.elem[pos+1:]``; batch dims broadcast.
    """
    idx = idx.long()
    x = _t(x) if not torch.is_tensor(x) else x
    if x.dim() == r and pos == 0:
        return x[idx]
    x_batch, i_batch = x.shape[: x.dim() - r], idx.shape[: idx.dim() - q]
    batch = torch.broadcast_shapes(x_batch, i_batch)
    x_elem, i_elem = x.shape[x.dim() - r :], idx.shape[idx.dim() - q :]
    if math.prod(x_batch) == 1:  # one x for every index (e.g. a single draw): a plain index_select
        out = x.reshape(x_elem).movedim(pos, 0)[idx]  # [*i_batch, *i_elem, *x_elem without pos]
        if q and pos:
            nb = len(i_batch)
            out = out.movedim(tuple(range(nb, nb + q)), tuple(range(nb + pos, nb + pos + q)))
        return out.reshape(*batch, *out.shape[len(i_batch) :])
    xf = x.expand(*batch, *x_elem).reshape(-1, *x_elem).movedim(1 + pos, 1)  # [n, x_pos, rest...]
    idf = idx.expand(*batch, *i_elem).reshape(-1, *i_elem)
    n = xf.shape[0]
    rows = torch.arange(n).reshape(n, *([1] * q))
    out = xf[rows, idf]  # [n, *i_elem, *x_elem without pos]
    out = out.movedim(tuple(range(1, 1 + q)), tuple(range(1 + pos, 1 + pos + q))) if q and pos else out
    return out.reshape(*batch, *out.shape[1:])


def hmm_marginal(log_omega, gamma, rho):
    """Stan's hmm_marginal: log p(y) of a hidden Markov model by the forward algorithm, with
    log_omega [..., K, N] (log emission densities), gamma [..., K, K] (transitions, row = from) and
    rho [..., K] (initial probabilities). The N - 1 transition steps are log-space matrices
    M_t[j, k] = log gamma[j, k] + log_omega[k, t], multiplied pairwise as a tree: about log2(N) batched
    operations instead of N sequential ones, which is what makes autograd through it cheap."""
    lo, lg, lr = _t(log_omega), torch.log(_t(gamma)), torch.log(_t(rho))
    alpha = lr + lo[..., 0]  # [..., K]
    if lo.shape[-1] == 1:
        return torch.logsumexp(alpha, -1)
    steps = lg.unsqueeze(-3) + lo[..., 1:].transpose(-1, -2).unsqueeze(-2)  # [..., N-1, K, K]
    while steps.shape[-3] > 1:
        if steps.shape[-3] % 2:  # an odd count: the last one waits for the next level
            last, steps = steps[..., -1:, :, :], steps[..., :-1, :, :]
        else:
            last = None
        pairs = (steps[..., 0::2, :, :].unsqueeze(-1) + steps[..., 1::2, :, :].unsqueeze(-3)).logsumexp(-2)
        steps = pairs if last is None else torch.cat([pairs, last], -3)
    return torch.logsumexp(alpha.unsqueeze(-1) + steps[..., 0, :, :], -2).logsumexp(-1)


def recurrence(a, b, init):
    """The first-order linear recurrence s[0] = init, s[t] = a·s[t-1] + b[t-1] (t = 1..n-1, n = len(b);
    the last b is not read), as in GARCH and AR filters. Vectorised without a Python loop:
    s[t] = a^t·init + Σ_{k<t} a^(t-1-k)·b[k], the powers from a lower-triangular exponent table.
    Leading (sample) dims of a, b and init broadcast."""
    a, b, init = _t(a), _t(b), _t(init)
    n = b.shape[-1]
    t = torch.arange(n, dtype=b.dtype)
    expo = t[:, None] - 1 - t[None, :]  # [t, k]: t - 1 - k
    mask = expo >= 0
    a_ = a[..., None, None]
    weights = torch.where(mask, torch.pow(a_, expo.clamp(min=0)), torch.zeros((), dtype=b.dtype))
    driven = (weights @ b.unsqueeze(-1)).squeeze(-1)
    return driven + torch.pow(a[..., None], t) * init[..., None]
