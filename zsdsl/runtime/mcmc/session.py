"""MCMC as a run: options checked, the run directory created or reopened, chains run, outputs written.

``sample_session`` is what ``CompiledModel.sample`` and ``zsdsl sample`` both call. NUTS and HMC
runs are checkpointed per chain and resume only with the same spec, data and fixed options
(``cores``, ``compile`` and ``checkpoint_every`` may change); SG-MCMC runs are not
checkpointed. A new run never writes into a directory that holds another run.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import torch

from zsdsl.errors import OptionError
from zsdsl.runtime.checkpoint import atomic_write_text
from zsdsl.runtime.mcmc.sgmcmc import METHODS as SG_METHODS
from zsdsl.runtime.options import check_mcmc_options
from zsdsl.runtime.rundir import check_resume, create_run, kept_if_used, open_run, spec_text

RESUME_CHANGEABLE = ("cores", "compile", "checkpoint_every")


def sample_session(compiled, data, method: str | None, out, resume, overwrite, data_label, progress, options: dict):
    """Run (or continue) one MCMC run; returns the ``MCMCResult`` (outputs written when ``out`` is given)."""
    from zsdsl.runtime.adversarial import refuse_implicit

    refuse_implicit(compiled, f"zsdsl sample ({method or 'nuts'})")
    torch.set_default_dtype(torch.float64)
    given = dict(options)
    options = dict(options)
    every_s = options.pop("checkpoint_every", None)
    if resume:
        if out is None:
            raise OptionError("resume=True needs the run directory (out=RUN).")
        run, cfg, prepared = _reopen(compiled, data, Path(out), method, given, data_label)
        method = cfg.method
    else:
        method = method or "nuts"
        check_mcmc_options(given, method)
        cfg = _config(method, options)
        cfg.validate()
        prepared = compiled.load_data(data, data_label)
        run = None
        if out is not None:
            label = data_label or (str(data) if isinstance(data, str | Path) else "")
            kind = "sgmcmc" if method in SG_METHODS else "mcmc"
            run = create_run(Path(out), kind, compiled.file, spec_text(compiled), label, prepared, overwrite)
            config = {"spec": compiled.file, "data": label, **dataclasses.asdict(cfg)}
            atomic_write_text(run.path / "config.json", json.dumps(config, indent=2) + "\n")
    with kept_if_used(run, resume):
        return _run(compiled, prepared, method, cfg, run.path if run is not None else None, resume, progress, every_s)


def _run(compiled, prepared, method, cfg, path, resume, progress, every_s):
    from zsdsl.runtime.mcmc.output import write_outputs

    model = compiled.model(prepared)
    if method in SG_METHODS:
        from zsdsl.runtime.mcmc.sgmcmc import sample_sgmcmc

        result = sample_sgmcmc(model, prepared, cfg)
    else:
        from zsdsl.runtime.mcmc.sampler import sample

        result = sample(model, prepared, cfg, progress=progress, run=path, resume=resume,
                        checkpoint_every_s=10.0 if every_s is None else float(every_s))  # fmt: skip
    if path is not None:
        write_outputs(result, path)
    return result


def _config(method: str, options: dict):
    from zsdsl.runtime.mcmc.sampler import SamplerConfig
    from zsdsl.runtime.mcmc.sgmcmc import SGMCMCConfig

    if method in SG_METHODS:
        options = dict(options)
        if "warmup" in options:
            options["burnin"] = options.pop("warmup")
        options.setdefault("chains", 4)  # as for NUTS: the CLI's and sample()'s default
    cls = SGMCMCConfig if method in SG_METHODS else SamplerConfig
    unknown = set(options) - {f.name for f in dataclasses.fields(cls)}
    if unknown:
        raise OptionError(f"Unknown option(s) for {method}: {', '.join(sorted(unknown))}.")
    return cls(method=method, **options)


def _reopen(compiled, data, out: Path, method: str | None, given: dict, data_label):
    """The run in ``out``, its saved configuration and data, checked against what is given now."""
    from zsdsl.runtime.mcmc.sampler import SamplerConfig

    run = open_run(out, ("mcmc",), "zsdsl sample --resume continues")  # (an SG-MCMC run is refused here)
    saved = run.config
    if method is not None and method != saved.get("method"):
        given = dict(given, method=method)  # refused by check_resume, naming both
    source = data if data is not None else (saved.get("data") or None)
    prepared = compiled.load_data(source, data_label)
    for note in check_resume(run, spec_text(compiled), prepared, saved, given, RESUME_CHANGEABLE):
        print(f"note: {note}", file=sys.stderr)
    check_mcmc_options(given, saved["method"])  # (after: a changed method is named as such first)
    run.lock()
    fields = {f.name for f in dataclasses.fields(SamplerConfig)}
    cfg = SamplerConfig(**{k: v for k, v in saved.items() if k in fields})
    for name in ("cores", "compile"):
        if name in given:
            setattr(cfg, name, given[name])
    cfg.validate()
    return run, cfg, prepared
