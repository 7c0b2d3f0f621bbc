"""Why a log density or an objective became non-finite, in the user's terms.

The hot path never checks distribution arguments (that costs time on every step). When an
engine sees a non-finite value, ``explain_fit`` (or ``explain_model``) evaluates the model (and guide) once more
with every density's arguments checked against torch's constraints for that distribution:
an argument out of its support (a negative scale, a negative rate) is reported as a
``SupportError`` naming the site, the argument, the value and where it was found, never as
"try a smaller --lr". The site is read from the generated line that raised (``lp['y'] = ...``
in a model, ``q_z = ...`` in a guide).
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import linecache
import re

import torch
import torch.distributions as td

from zsdsl.errors import SupportError
from zsdsl.runtime.lib import distributions, lpdf

_LPDF_NAMES = ("Normal", "HalfNormal", "Cauchy", "HalfCauchy", "StudentT", "LogNormal", "Exponential", "Gamma",
               "Bernoulli", "Poisson")  # fmt: skip
_SITE_LINE = (re.compile(r"\blp\['([^']+)'\]\s*="), re.compile(r"\bq_(\w+)\s*="), re.compile(r"\blq\['([^']+)'\]"))
_TORCH_MSG = re.compile(r"Expected parameter (\w+) .*?of distribution (\w+).*?constraint ([^,]+?\)?)(?:, but|$)", re.S)


class ArgumentOutOfSupport(Exception):
    def __init__(self, dist: str, arg: str, detail: str):
        super().__init__(f"{dist}: {arg} {detail}")
        self.dist, self.arg, self.detail = dist, arg, detail


def _first_bad(value, constraint) -> str:
    t = torch.as_tensor(value, dtype=torch.get_default_dtype()) if not torch.is_tensor(value) else value.detach()
    ok = constraint.check(t)
    if bool(ok.all()):
        return ""
    bad = (~ok).nonzero()
    where = f" at element [{', '.join(str(int(i)) for i in bad[0])}]" if t.dim() else ""
    found = t[tuple(bad[0])] if t.dim() else t
    return f"is {float(found):g}{where}, outside its support ({constraint})"


def _checked_lpdf(name: str, fn):
    signature = inspect.signature(fn)
    cls = getattr(td, name)

    @functools.wraps(fn)
    def checked(*args, **kwargs):
        for arg, value in signature.bind(*args, **kwargs).arguments.items():
            constraint = cls.arg_constraints.get(arg) if arg != "value" else None
            if constraint is not None and value is not None:
                detail = _first_bad(value, constraint)
                if detail:
                    raise ArgumentOutOfSupport(name, arg, detail)
        return fn(*args, **kwargs)

    return checked


@contextlib.contextmanager
def checking_arguments():
    """Within the block, every ``zl.lpdf`` density and ``zl.dist`` distribution checks its arguments."""
    saved = {name: getattr(lpdf, name) for name in _LPDF_NAMES}
    flag = distributions._NO_VALIDATE["validate_args"]
    try:
        for name, fn in saved.items():
            setattr(lpdf, name, _checked_lpdf(name, fn))
        distributions._NO_VALIDATE["validate_args"] = True
        yield
    finally:
        for name, fn in saved.items():
            setattr(lpdf, name, fn)
        distributions._NO_VALIDATE["validate_args"] = flag


def _site_of(tb) -> str | None:
    """The site named on the innermost generated line of a traceback."""
    site = None
    while tb is not None:
        code = tb.tb_frame.f_code
        if code.co_filename.startswith("<zsdsl:"):
            line = linecache.getline(code.co_filename, tb.tb_lineno)
            for pattern in _SITE_LINE:
                m = pattern.search(line)
                if m:
                    site = m.group(1)
                    break
        tb = tb.tb_next
    return site


def _as_support_error(exc: Exception, where: str) -> SupportError | None:
    if isinstance(exc, ArgumentOutOfSupport):
        dist, arg, detail = exc.dist, exc.arg, exc.detail
    else:
        m = _TORCH_MSG.search(str(exc))
        if m is None:
            return None
        arg, dist, detail = m.group(1), m.group(2), f"is outside its support ({m.group(3).strip()})"
    site = _site_of(exc.__traceback__)
    who = f"site '{site}'" if site else "a site"
    return SupportError(
        f"{where}: the argument '{arg}' of {dist} at {who} {detail}. If it is computed from a latent, declare "
        "that latent's support so it stays in range (e.g. `sigma: real in (0, inf) ~ ...`)."
    )


def explain_model(model, values: dict, data: dict, subsample=None, where: str = "The log density") -> Exception | None:
    """A ``SupportError`` for the first density argument out of its support at ``values``, or None."""
    with torch.no_grad(), checking_arguments():
        try:
            model.log_joint(values, data, subsample)
        except (ArgumentOutOfSupport, ValueError) as exc:
            return _as_support_error(exc, where)
    return None


def explain_fit(model, guide, data: dict, subsample, step: int, tries: int = 20) -> Exception | None:
    """Why a variational objective became non-finite at ``step``: a guide or model density argument
    out of its support on one of ``tries`` fresh draws, or None when none is found."""
    where = f"At step {step}"
    for _ in range(tries):
        with torch.no_grad(), checking_arguments():
            try:
                values, _, _ = guide.sample_and_log_prob(data, (1,), subsample)
            except (ArgumentOutOfSupport, ValueError) as exc:
                return _as_support_error(exc, f"{where}, in the guide")
        found = explain_model(model, values, data, subsample, f"{where}, in the model")
        if found is not None:
            return found
    return None


def nonfinite_parameters(*modules) -> list[str]:
    return [name for m in modules for name, p in m.named_parameters() if not torch.isfinite(p).all()]
