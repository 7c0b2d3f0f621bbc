"""A variational fit as a run: options checked, the run directory created or reopened, then trained.

``fit_session`` is what ``CompiledModel.fit`` and ``zsdsl fit`` both call: the data are checked
against the spec, every option is validated by ``FitConfig`` and refused where it does not
apply, a new run directory is created through ``zsdsl.runtime.rundir`` (never into another
run), and ``resume`` continues a run only with the same spec, data and fixed options. With ``nprocs``
the training runs in that many spawned processes (``parallel``); under ``torchrun`` (``WORLD_SIZE``
set) each launched process runs this session, rank 0 alone opening and writing the run.
"""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path

from zsdsl.errors import DistributedError, OptionError, ZsdslError
from zsdsl.runtime import distributed
from zsdsl.runtime.options import check_vi_options
from zsdsl.runtime.rundir import apply_resume_changes, check_resume, create_run, open_run, spec_text
from zsdsl.runtime.vi.parallel import spawn_fit
from zsdsl.runtime.vi.train import FitConfig, fit, resume_config

# Options a resumed fit may change: how long it runs and how it saves, not what it fits.
# (nprocs too: a seed's trajectory is the same for any number of processes)
RESUME_CHANGEABLE = ("steps", "epochs", "checkpoint_every", "keep", "log_every", "device", "draws", "nprocs")


def default_guide(compiled, infer: str) -> str:
    return "auto-delta" if infer == "map" else compiled.guide_names[0] if compiled.guide_names else "auto-normal"


def fit_session(compiled, data, infer, guide, out, resume, overwrite, valid, data_label, options: dict):
    """Run (or continue) one variational fit; returns the ``FitResult``."""
    progress = options.pop("progress", None)  # None: a bar on a terminal
    from zsdsl.runtime.adversarial import refuse_implicit

    refuse_implicit(compiled, f"--infer {infer or 'sgvb'}")
    unknown = set(options) - ({f.name for f in dataclasses.fields(FitConfig)} - {"spec", "data", "valid"})
    if unknown:
        raise OptionError(f"Unknown fit option(s): {', '.join(sorted(unknown))}.")
    if resume and out is None:
        raise OptionError("resume=True needs the run directory (out=RUN).")
    given = {k: v for k, v in {"infer": infer, "guide": guide, **options}.items() if v is not None}
    if distributed.launched_world() > 1:
        return _launched(compiled, data, given, out, resume, overwrite, valid, data_label, progress)
    if resume:
        run, config, prepared, source = _reopen(compiled, data, Path(out), given, data_label)
        valid = valid if valid is not None else (config.valid or None)  # a dict is not recorded: give it again
        if config.early_stop is not None and valid is None:
            raise OptionError(f"{out} was validated on data given as a dict; give it again (valid=...) to resume.")
    else:
        config, prepared, source = _new_config(compiled, data, given, valid, data_label)
        run = create_run(Path(out), "vi", compiled.file, spec_text(compiled), config.data, prepared,
                         overwrite) if out is not None else None  # fmt: skip
    try:
        held_out = compiled.load_data(valid) if valid is not None else None
        result = _train(compiled, source, data_label, config, run.path if run else None, resume, progress, valid,
                        prepared, held_out)  # fmt: skip
        _write_draws(result)
        return result
    except BaseException:
        if run is not None and not resume:
            run.discard_if_unused()
        raise
    finally:
        if run is not None:
            run.release()


def _new_config(compiled, data, given: dict, valid, data_label):
    """(config, prepared data, the data's source) of a new fit, every option checked."""
    options = {k: v for k, v in given.items() if k not in ("infer", "guide")}
    label = data_label or (str(data) if isinstance(data, str | Path) else "")
    prepared = compiled.load_data(data, data_label, mapped=True)
    infer = given.get("infer") or "sgvb"
    config = FitConfig(infer=infer, guide=given.get("guide") or default_guide(compiled, infer), spec=compiled.file,
                       data=label, **options)  # fmt: skip
    if isinstance(valid, str | Path):
        config.valid = str(valid)
    config.validate()
    check_vi_options(options, config.infer, config.guide, valid is not None)
    return config, prepared, data


def _reopen(compiled, data, out: Path, given: dict, data_label):
    """(the run, locked; its config with the changes given; prepared data; their source) of a resumed fit."""
    run = open_run(out, ("vi",), "zsdsl fit --resume continues")
    config = resume_config(out)
    source = data if data is not None else (config.data or None)
    prepared = compiled.load_data(source, data_label, mapped=True)
    for note in check_resume(run, spec_text(compiled), prepared, dataclasses.asdict(config), given, RESUME_CHANGEABLE):
        print(f"note: {note}", file=sys.stderr)
    run.lock()
    apply_resume_changes(config, given, RESUME_CHANGEABLE)
    config.validate()
    return run, config, prepared, source


def _train(compiled, source, label, config, run, resume, progress, valid, prepared, held_out):
    """``fit`` in this process, or in ``config.nprocs`` spawned ones."""
    if config.nprocs == 1:
        return fit(compiled, prepared, config, run, resume, progress=progress, valid=held_out)
    distributed.check_shardable(compiled.model(prepared), config.nprocs)
    return spawn_fit(compiled, source, label, config, run, resume, progress, valid, prepared)


def _launched(compiled, data, given: dict, out, resume, overwrite, valid, data_label, progress):
    """A fit in a run launched by torchrun: rank 0 opens the run and says how it went; all train."""
    world = distributed.launched_world()
    if given.get("nprocs", world) != world:
        raise OptionError(f"This process was launched as one of {world} (WORLD_SIZE={world}): leave out --nprocs, "
                          "the launcher sets the number of processes.")  # fmt: skip
    group = distributed.join(given.get("device", "cpu"))
    given = {**given, "nprocs": world}
    run, config, problem = None, None, None
    if group.main:
        try:
            if resume:
                run, config, _, _ = _reopen(compiled, data, Path(out), given, data_label)
            else:
                config, prepared, _ = _new_config(compiled, data, given, valid, data_label)
                run = create_run(Path(out), "vi", compiled.file, spec_text(compiled), config.data, prepared,
                                 overwrite) if out is not None else None  # fmt: skip
        except ZsdslError as exc:
            problem = exc
    config = group.broadcast(config)
    if problem is not None:
        raise problem
    if config is None:
        raise DistributedError(f"Process {group.rank} of {world} stopped: rank 0 could not start the run (its "
                               "message says why).")  # fmt: skip
    valid = valid if valid is not None else (config.valid or None)
    try:
        prepared = compiled.load_data(data if data is not None else (config.data or None), data_label, mapped=True)
        held_out = compiled.load_data(valid) if valid is not None else None
        result = fit(compiled, prepared, config, run.path if run else None, resume,
                     progress=progress if group.main else False, valid=held_out)  # fmt: skip
        if group.main:
            _write_draws(result)
        distributed.leave(sync=True)
        return result
    finally:
        if run is not None:
            run.release()


def _write_draws(result) -> None:
    """The guide's draws into the run (posterior.nc, summary.json, draws.json), unless draws=0."""
    if result.run is not None and result.config.draws > 0:
        from zsdsl.runtime.mapped import MappedField
        from zsdsl.runtime.vi.draws import write_vi_outputs

        mapped = [k for k, v in (result.data or {}).items() if isinstance(v, MappedField)]
        if mapped:
            print(f"note: the guide's draws (posterior.nc, summary.json) were not written: they are computed over the "
                  f"whole data set, and {', '.join(mapped)} {'is' if len(mapped) == 1 else 'are'} memory-mapped "
                  "(read a minibatch at a time); the fitted parameters are in the run's checkpoints (draws=0 leaves "
                  "this note out).", file=sys.stderr)  # fmt: skip
            return

        write_vi_outputs(result, result.run)
