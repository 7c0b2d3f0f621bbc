"""A variational fit over several processes (``nprocs``) or under ``torchrun``.

``spawn_fit`` (``zsdsl fit --nprocs N``): this process has created or reopened the run directory
and holds its lock; N spawned processes (``distributed.launch``) each load the data and run the
training loop on their shards, rank 0 writing the run as a one-process fit does, and rank 0 hands
the fitted parameters back through a temporary file (tensors only), from which this process
builds the ``FitResult`` (and writes the guide's draws). Under ``torchrun`` every process runs
the session itself (``zsdsl.runtime.vi.session``): rank 0 opens the run, the others write nothing.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import torch

from zsdsl.errors import DistributedError
from zsdsl.runtime import distributed
from zsdsl.runtime.checkpoint import latest_checkpoint
from zsdsl.runtime.vi.train import FitResult, data_points, fit


def spawn_fit(compiled, source, label, config, run: Path | None, resume: bool, progress, valid_source,
              prepared: dict) -> FitResult:  # fmt: skip
    """Fit with ``config.nprocs`` local processes; the result as ``fit`` returns it."""
    with tempfile.TemporaryDirectory(prefix="zsdsl-fit-") as tmp:
        handoff = Path(tmp) / "result.pt"
        args = (compiled, source, label, config, run, resume, progress, valid_source, handoff,
                torch.get_default_dtype())  # fmt: skip
        try:
            distributed.launch(config.nprocs, _worker, args)
        except DistributedError as exc:
            raise DistributedError(exc.message + _resume_hint(run)) from None
        state = torch.load(handoff, weights_only=True)
    return _result(compiled, prepared, config, run, state)


def _resume_hint(run: Path | None) -> str:
    last = latest_checkpoint(run) if run is not None else None
    if last is None:
        return " No checkpoint was written."
    return f" The last checkpoint, {last.name}, is intact: continue with zsdsl fit --resume {run}"


def _worker(compiled, source, label, config, run, resume, progress, valid_source, handoff, dtype) -> None:
    torch.set_default_dtype(dtype)
    group = distributed.join(config.device)
    prepared = compiled.load_data(source, label, mapped=True)
    held_out = compiled.load_data(valid_source) if valid_source is not None else None
    result = fit(compiled, prepared, config, run if group.main else None, resume,
                 progress=progress if group.main else False, valid=held_out)  # fmt: skip
    if group.main:
        torch.save(handoff_state(result), handoff)


def handoff_state(result: FitResult) -> dict:
    """What a fitted process passes on: parameters and the records of the fit (tensors and plain data)."""
    return {"model": result.model.state_dict(), "guide": result.guide.state_dict(), "history": result.history,
            "validation": result.validation, "best_step": result.best_step,
            "stopped_step": result.stopped_step}  # fmt: skip


def _result(compiled, prepared, config, run, state) -> FitResult:
    from zsdsl.runtime.vi.guides import make_guide

    device = torch.device(config.device)
    data = {k: (v.to(device) if torch.is_tensor(v) else v) for k, v in prepared.items()}
    with device:
        torch.manual_seed(config.seed)
        model = compiled.model(data)
        guide = make_guide(compiled, model, data, config.guide, config.init, config.init_scale)
    model.load_state_dict(state["model"])
    guide.load_state_dict(state["guide"])
    return FitResult(model, guide, [tuple(h) for h in state["history"]], run, config,
                     validation=[tuple(v) for v in state["validation"]], best_step=state["best_step"],
                     stopped_step=state["stopped_step"], data=data, points=data_points(model))  # fmt: skip
