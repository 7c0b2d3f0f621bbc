"""A variational fit as a run: options checked, the run directory created or reopened, then trained.

``fit_session`` is what ``CompiledModel.fit`` and ``zsdsl fit`` both call: the data are checked
against the spec, every option is validated by ``FitConfig`` and refused where it does not
apply, a new run directory is created through ``zsdsl.runtime.rundir`` (never into another
run), and ``resume`` continues a run only with the same spec, data and fixed options.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from zsdsl.errors import OptionError
from zsdsl.runtime.options import check_vi_options
from zsdsl.runtime.rundir import check_resume, create_run, open_run, spec_text
from zsdsl.runtime.vi.train import FitConfig, fit, resume_config

# Options a resumed fit may change: how long it runs and how it saves, not what it fits.
RESUME_CHANGEABLE = ("steps", "epochs", "checkpoint_every", "keep", "log_every", "device", "draws")


def default_guide(compiled, infer: str) -> str:
    return "auto-delta" if infer == "map" else compiled.guide_names[0] if compiled.guide_names else "auto-normal"


def fit_session(compiled, data, infer, guide, out, resume, overwrite, valid, data_label, options: dict):
    """Run (or continue) one variational fit; returns the ``FitResult``."""
    progress = options.pop("progress", None)  # None: a bar on a terminal
    unknown = set(options) - ({f.name for f in dataclasses.fields(FitConfig)} - {"spec", "data", "valid"})
    if unknown:
        raise OptionError(f"Unknown fit option(s): {', '.join(sorted(unknown))}.")
    if resume and out is None:
        raise OptionError("resume=True needs the run directory (out=RUN).")
    given = {k: v for k, v in {"infer": infer, "guide": guide, **options}.items() if v is not None}
    if resume:
        return _resume(compiled, data, Path(out), given, data_label, progress, valid)
    label = data_label or (str(data) if isinstance(data, str | Path) else "")
    prepared = compiled.load_data(data, data_label)
    infer = infer or "sgvb"
    config = FitConfig(infer=infer, guide=guide or default_guide(compiled, infer), spec=compiled.file, data=label,
                       **options)  # fmt: skip
    if isinstance(valid, str | Path):
        config.valid = str(valid)
    config.validate()
    check_vi_options(options, config.infer, config.guide, valid is not None)
    held_out = compiled.load_data(valid) if valid is not None else None
    run = None
    if out is not None:
        run = create_run(Path(out), "vi", compiled.file, spec_text(compiled), label, prepared, overwrite)
    try:
        result = fit(compiled, prepared, config, run.path if run else None, False, progress=progress, valid=held_out)
        _write_draws(result)
        return result
    except BaseException:
        if run is not None:
            run.discard_if_unused()
        raise
    finally:
        if run is not None:
            run.release()


def _resume(compiled, data, out: Path, given: dict, data_label, progress, valid):
    run = open_run(out, ("vi",), "zsdsl fit --resume continues")
    config = resume_config(out)
    source = data if data is not None else (config.data or None)
    prepared = compiled.load_data(source, data_label)
    for note in check_resume(run, spec_text(compiled), prepared, dataclasses.asdict(config), given, RESUME_CHANGEABLE):
        print(f"note: {note}", file=sys.stderr)
    run.lock()
    for name in RESUME_CHANGEABLE:
        if name in given:
            setattr(config, name, given[name])
    if "steps" in given:
        config.epochs = None
    elif "epochs" in given:
        config.steps = None
    config.validate()
    valid = valid if valid is not None else (config.valid or None)  # a dict is not recorded: give it again
    if config.early_stop is not None and valid is None:
        raise OptionError(f"{out} was validated on data given as a dict; give it again (valid=...) to resume.")
    held_out = compiled.load_data(valid) if valid is not None else None
    try:
        result = fit(compiled, prepared, config, out, True, progress=progress, valid=held_out)
        _write_draws(result)
        return result
    finally:
        run.release()


def _write_draws(result) -> None:
    """The guide's draws into the run (posterior.nc, summary.json, draws.json), unless draws=0."""
    if result.run is not None and result.config.draws > 0:
        from zsdsl.runtime.vi.draws import write_vi_outputs

        write_vi_outputs(result, result.run)
