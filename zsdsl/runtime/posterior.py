"""What follows from draws of the latents, for every engine: deterministics, the ``generated:`` block,
the posterior predictive and the pointwise log-likelihood; and the ArviZ ``InferenceData`` of a run.

``derive(model, data, latents)`` takes draws shaped ``[chains, draws, *site shape]`` (NUTS, HMC,
SG-MCMC chains, or draws from a fitted guide as one chain) and returns ``Derived``:

- ``posterior``: the latents, the model's deterministic nodes and the generated block's ``=`` nodes;
- ``predictive``: the generated block's ``~`` nodes and a replicate of every observed site drawn
  given the latents (named as the site, as NumPyro's ``Predictive`` and ArviZ's ``plot_ppc`` expect);
- ``log_likelihood``: per observed site, its log-density per element of its plates (as LOO needs);
- ``notes``: what was left out and why (never silently).

The draws are processed in chunks so that memory stays bounded; a variable larger than
``MAX_VALUES`` numbers in all is left out, with a note. ``inference_data`` names the dims after the
model's plates and sizes (``value_dims``, emitted by the compiler) with 0-based integer coordinates.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import torch

MAX_VALUES = 50_000_000  # per variable (chains x draws x elements): 400 MB as float64
CHUNK = 256  # draws evaluated at once
MAX_DATA_VALUES = 5_000_000  # a data field larger than this is not copied into InferenceData


@dataclass
class Derived:
    posterior: dict = field(default_factory=dict)  # name -> np.ndarray [C, S, ...]
    predictive: dict = field(default_factory=dict)
    log_likelihood: dict = field(default_factory=dict)
    notes: list = field(default_factory=list)
    generated_names: tuple = ()  # the generated block's nodes (``=`` in posterior, ``~`` in predictive)

    def reported(self) -> dict:
        """What a summary and the Stan CSVs report: the posterior group and the generated ``~`` nodes
        (not the replicates of observed sites, which Stan's output does not have either)."""
        extra = {k: v for k, v in self.predictive.items() if k in self.generated_names}
        return {**self.posterior, **extra}


def _numpy(t) -> np.ndarray:
    arr = t.detach().cpu().numpy() if torch.is_tensor(t) else np.asarray(t)
    return arr.astype(np.float64) if arr.dtype.kind == "f" else arr


def derive(model, data: dict, values: dict, seed: int = 0, predictive: bool = True, enumerated: tuple = ()) -> Derived:
    """Deterministics, generated quantities, predictive draws and pointwise log-likelihoods for the draws
    ``values`` (name -> [C, S, ...]; latents, deterministics may be among them). ``enumerated`` names the
    latents summed out by the sampler (``values`` holds placeholders for them, which are not reported):
    the predictive and the log-likelihood, which would need their conditional draws, are then left out
    with a note."""
    first = next(iter(values.values()))
    C, S = first.shape[:2]
    latents = {s.name for s in model.sites(data)}
    gen_draws = tuple(getattr(model, "generated_draws", ()))
    out = Derived()
    parts: dict[str, list] = {}
    groups: dict[str, str] = {}
    flat = {k: v.reshape(C * S, *v.shape[2:]) for k, v in values.items()}
    observed = tuple(model.observed) if predictive and not enumerated else ()
    if predictive and enumerated and model.observed:
        out.notes.append(f"no posterior predictive or log-likelihood: the enumerated {', '.join(enumerated)} "
                         "would need its conditional draws, which the sampler does not make")  # fmt: skip
    dropped: set[str] = set()
    with torch.random.fork_rng(), torch.no_grad():
        torch.manual_seed(seed)
        # the first chunk is one draw: it measures every variable, and those that would not fit in
        # MAX_VALUES for all the draws are dropped before they cost memory (60 000 replicated images)
        starts = [0, *range(1, C * S, CHUNK)]
        for lo, hi in zip(starts, [*starts[1:], C * S], strict=True):
            chunk = {k: v[lo:hi] for k, v in flat.items()}
            wanted = tuple(o for o in observed if o not in dropped or f"ll:{o}" not in dropped)
            for group, name, value in _chunk_values(model, data, chunk, latents, wanted, gen_draws, enumerated):
                if name in dropped:
                    continue
                arr = _numpy(value)
                if lo == 0 and arr.size * C * S > MAX_VALUES:
                    dropped.add(name)
                    out.notes.append(_left_out(name, arr, C, S))
                    continue
                parts.setdefault(name, []).append(arr)
                groups[name] = group
                if group.startswith("generated"):
                    out.generated_names += () if name in out.generated_names else (name,)
    for name, pieces in parts.items():
        arr = np.concatenate(pieces).reshape(C, S, *pieces[0].shape[1:])
        key = {"ll": "log_likelihood", "generated": "posterior", "generated_draw": "predictive"}.get(groups[name])
        getattr(out, key or groups[name])[name.removeprefix("ll:")] = arr
    return out


def _left_out(name: str, arr: np.ndarray, C: int, S: int) -> str:
    what = f"the log-likelihood of '{name[3:]}'" if name.startswith("ll:") else f"'{name}'"
    return f"{what} left out: {arr.size * C * S:,} values ({C} x {S} draws of {list(arr.shape[1:])})"


def _chunk_values(model, data, chunk, latents, observed, gen_draws, enumerated):
    """(group, name, value) for one chunk of draws; group: posterior, predictive, ll (a log-likelihood),
    generated or generated_draw (the generated block's ``=`` and ``~`` nodes). Observed fields missing
    from ``data`` (new covariates to predict at) get no log-likelihood; the deterministics then come
    from the ancestral pass that draws their replicates."""
    n = next(iter(chunk.values())).shape[0]
    given = {k: v for k, v in chunk.items() if k in latents}
    drawn = None
    if any(o not in data for o in model.observed):
        drawn = model.sample(data, n, values=given)
        lp, dets = {}, {k: v for k, v in drawn.items() if k not in latents and k not in model.observed}
    else:
        lp, dets = model.log_terms(given, data)
    skip = set(getattr(model, "enum_dependent", ()))
    values = dict(chunk)
    values.update({k: v for k, v in dets.items() if torch.is_tensor(v)})
    for name, v in values.items():
        if name not in skip and name not in enumerated:
            yield "posterior", name, v
    for name, v in model.generate(values, data).items():
        yield ("generated_draw" if name in gen_draws else "generated"), name, _lead(v, n)
    if observed:
        replicate = drawn if drawn is not None else model.sample(data, n, values=given)
        for name in observed:
            yield "predictive", name, replicate[name]
            if name in lp:
                yield "ll", f"ll:{name}", _lead(lp[name], n)


def _lead(v, n: int):
    """A value with the chunk's draw dim first (a generated constant is broadcast to it)."""
    v = torch.as_tensor(v)
    if v.dim() == 0 or v.shape[0] != n:
        v = v.expand(n, *v.shape)
    return v


# ---------------------------------------------------------------- InferenceData


def inference_data(model, data: dict, derived: Derived | None, sample_stats: dict | None = None,
                   prior: Derived | None = None, attrs: dict | None = None, warmup: tuple | None = None):  # fmt: skip
    """ArviZ ``InferenceData``: posterior, posterior_predictive, log_likelihood, sample_stats,
    observed_data, constant_data (and prior, prior_predictive when ``prior`` is given; ``derived`` is
    None for prior draws only; ``warmup``: (posterior, sample_stats) of the warmup draws, for the
    ``warmup_posterior`` and ``warmup_sample_stats`` groups), with dims named after the model's plates
    and sizes and 0-based coordinates."""
    import arviz as az

    derived = derived or Derived()
    groups = {
        "posterior": derived.posterior,
        "posterior_predictive": derived.predictive,
        "log_likelihood": derived.log_likelihood,
        "sample_stats": sample_stats or {},
    }
    if prior is not None:
        groups["prior"], groups["prior_predictive"] = prior.posterior, prior.predictive
    if warmup is not None:
        groups["warmup_posterior"], groups["warmup_sample_stats"] = warmup
    fields = {k: _numpy(v) for k, v in data.items() if k in model.data_dtypes}
    large = sorted(k for k, v in fields.items() if v.size > MAX_DATA_VALUES)
    if large:  # 60 000 images would make every run file hundreds of megabytes; the data file has them
        attrs = dict(attrs or {}, left_out_data=", ".join(large))
        derived.notes.append(f"data {', '.join(large)} left out of observed_data/constant_data (over "
                             f"{MAX_DATA_VALUES:,} values; the data file holds them)")  # fmt: skip
    observed = {k: fields[k] for k in model.observed if k in fields and k not in large}
    constant = {k: v for k, v in fields.items() if k not in observed and k not in large}
    for name in model.observed:  # replicates of integer data as integers (ArviZ draws counts as histograms)
        if model.data_dtypes.get(name) == "int":
            for group in ("posterior_predictive", "prior_predictive"):
                if name in groups.get(group, {}):
                    groups[group] = {**groups[group], name: np.rint(groups[group][name]).astype(np.int64)}
    dims, coords = _dims_and_coords(model, [(g, 2) for g in groups.values()] + [(observed, 0), (constant, 0)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ArviZ's FutureWarnings about its own next version
        idata = az.from_dict(**{k: v for k, v in groups.items() if v}, observed_data=observed or None,
                             constant_data=constant or None, dims=dims, coords=coords, attrs=attrs,
                             save_warmup=warmup is not None)  # fmt: skip
    return idata


def write_inference_data(idata, path) -> None:
    """Write InferenceData as NetCDF, uncompressed (draws of reals do not compress: zlib made a 5000-point
    run's 320 MB file only 160 MB and took 10 s instead of 1.6 s), integer variables in the smallest
    integer type that holds them (0/1 replicates as int8); ``read_inference_data`` gives int64 back."""
    import arviz as az

    groups = {g: idata[g].map(_compact_ints, keep_attrs=True) for g in idata.groups()}
    az.InferenceData(**groups).to_netcdf(str(path), compress=False)


def _compact_ints(var):
    values = var.values
    if values.dtype.kind not in "iu" or values.size == 0 or values.dtype.itemsize == 1:
        return var
    lo, hi = values.min(), values.max()
    for small in (np.int8, np.int16, np.int32):
        if np.iinfo(small).min <= lo and hi <= np.iinfo(small).max:
            return var.astype(small)
    return var


def read_inference_data(run, name: str = "posterior.nc"):
    """A run's InferenceData file (``posterior.nc``, ``prior.nc``); a ``RunDirError`` when it is missing."""
    import arviz as az

    from zsdsl.errors import RunDirError

    path = run / name
    if not path.exists():
        raise RunDirError(f"{run} has no {name}: the run has not finished (or a fit ran with --draws 0).")
    idata = az.from_netcdf(str(path))
    for g in idata.groups():  # integers were stored small (write_inference_data): int64 again, as derived
        ds = idata[g]
        wide = {k: v.astype(np.int64) for k, v in ds.data_vars.items() if v.dtype.kind in "iu" and v.dtype.itemsize < 8}
        if wide:
            idata[g] = ds.assign(wide)
    return idata


def _dims_and_coords(model, groups):
    """Dims per variable from ``model.value_dims`` where they fit the array (``groups``: (variables,
    number of leading sample dims)); a variable whose dims would give a dim name a second size keeps
    ArviZ's numbered dims instead."""
    named = getattr(model, "value_dims", {})
    sizes: dict[str, int] = {}
    dims: dict[str, list] = {}
    for group, lead in groups:
        for name, arr in group.items():
            axes = named.get(name)
            shape = np.shape(arr)[lead:]
            if axes is None or len(axes) != len(shape) or name in dims:
                continue
            if any(sizes.get(a, n) != n for a, n in zip(axes, shape, strict=True)):
                continue
            sizes.update(zip(axes, shape, strict=True))
            dims[name] = list(axes)
    coords = {a: np.arange(n) for a, n in sizes.items()}
    return dims, coords


def element_labels(name: str, shape: tuple, base: int = 0, style: str = "bracket") -> list[str]:
    """Labels of the scalar elements of a value: ``theta[0]``.. (0-based, as the language and ArviZ
    coordinates) or, with ``style="stan"`` and ``base=1``, Stan CSV's ``theta.1``."""
    if not shape:
        return [name]
    out = []
    for idx in np.ndindex(*shape):
        label = ",".join(str(i + base) for i in idx)
        out.append(f"{name}.{label.replace(',', '.')}" if style == "stan" else f"{name}[{label}]")
    return out


def flat_columns(values: dict, stan: bool = False) -> dict[str, np.ndarray]:
    """name -> [C, S] arrays, one per scalar element: ``theta[0]``.. (0-based), or with ``stan`` the
    Stan CSV columns ``theta.1``.. (1-based)."""
    out = {}
    for name, v in values.items():
        arr = v.detach().cpu().double().numpy() if hasattr(v, "detach") else np.asarray(v, dtype=np.float64)
        shape = arr.shape[2:]
        labels = element_labels(name, shape, base=1, style="stan") if stan else element_labels(name, shape)
        for label, idx in zip(labels, np.ndindex(*shape), strict=True):
            out[label] = arr[(slice(None), slice(None), *idx)]
    return out


def summarize_draws(cols: dict) -> dict:
    """Mean, sd and the 5/50/95 % quantiles per scalar column (independent draws: a fitted guide's)."""
    out = {}
    for name, arr in cols.items():
        x = np.asarray(arr, dtype=np.float64).reshape(-1)
        q5, q50, q95 = np.quantile(x, [0.05, 0.5, 0.95])
        sd = float(x.std(ddof=1)) if x.size > 1 else float("nan")
        out[name] = {"mean": float(x.mean()), "sd": sd, "5%": float(q5), "50%": float(q50), "95%": float(q95)}
    return out
