"""Data-parallel runs on PyTorch's own engine, ``torch.distributed`` (DDP; gloo on CPU, nccl on GPU).

A run of R processes is one process's run, split: every process holds the whole model, guide and
optimizer, draws the same global latents from the same seed, and takes one contiguous shard of each
minibatch of each subsampled plate (``lib.shards``: with the whole minibatch's random numbers at its
rows). Each process's loss scales its shard by N/b (its own share), DDP averages the gradients, and
the average is the one-process gradient of the whole minibatch exactly (sum over shards of N/b_r
times a shard's terms, over R, is N/B times the minibatch's terms). The reported bound is averaged
the same way. So a seed gives the same trajectory for any number of processes, to rounding.

``launch(nprocs, worker, args)`` spawns local processes (``zsdsl fit --nprocs N``); ``torchrun``
launches the same code on several machines (it sets ``RANK``, ``WORLD_SIZE``, ``MASTER_ADDR``...);
``join()`` makes this process a member of the group either way. Rank 0 alone writes the run.
"""

from __future__ import annotations

import gc
import json
import logging
import os
import signal
import socket
import sys
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import torch
import torch.distributed as dist

from zsdsl import errors
from zsdsl.errors import DistributedError, OptionError
from zsdsl.runtime.lib.plates import subsampled_plates
from zsdsl.runtime.lib.shards import shard_indices

TIMEOUT = timedelta(minutes=10)  # a collective that waits longer than this ends the run with an error


@dataclass
class Group:
    """This process's place in a data-parallel run."""

    rank: int
    world: int

    @property
    def main(self) -> bool:
        return self.rank == 0

    def shard(self, subsample: dict | None) -> dict | None:
        """This process's shard of each plate's minibatch indices."""
        if not subsample:
            return subsample
        return {p: shard_indices(idx, self.rank, self.world) for p, idx in subsample.items()}

    def mean(self, value: torch.Tensor) -> torch.Tensor:
        """The average over the processes of a (detached) tensor."""
        out = value.detach().clone()
        dist.all_reduce(out)
        return out / self.world

    def broadcast(self, obj):
        """Rank 0's ``obj`` (plain data and tensors), in every process."""
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def launched_world() -> int:
    """The number of processes a launcher (torchrun, or ``launch``) started this one among; 1 if none."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def join(device: str = "cpu") -> Group | None:
    """Join the launched run's process group (once); None when this process runs alone."""
    joined = current()
    if joined is not None:
        return joined
    if launched_world() <= 1:
        return None
    if not dist.is_available():
        raise DistributedError("This PyTorch build has no torch.distributed: a data-parallel run cannot start.")
    backend = "nccl" if device.startswith("cuda") or device == "auto" and torch.cuda.is_available() else "gloo"
    if backend == "nccl":  # one GPU a process, before the group is made
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    try:
        dist.init_process_group(backend, timeout=TIMEOUT)
    except (RuntimeError, ValueError) as exc:
        raise DistributedError(f"Cannot join the data-parallel run (backend {backend}, "
                               f"MASTER_ADDR={os.environ.get('MASTER_ADDR')}, "
                               f"MASTER_PORT={os.environ.get('MASTER_PORT')}): {exc}") from None  # fmt: skip
    return Group(dist.get_rank(), dist.get_world_size())


def leave(sync: bool = False) -> None:
    """Leave the group; with ``sync`` after every process has got here (a process that tears its
    connections down while another still uses them can abort at exit)."""
    if dist.is_available() and dist.is_initialized():
        gc.collect()  # DDP's reducer (in reference cycles) goes while its group exists, not at exit (SIGABRT)
        if sync:
            dist.barrier()
        dist.destroy_process_group()


def check_shardable(model, world: int) -> None:
    """Refuse a model whose minibatches cannot be split evenly over ``world`` processes."""
    plates = subsampled_plates(model.plate_sizes(), model.plate_subsample)
    if not plates:
        raise OptionError(f"A data-parallel run ({world} processes) splits the minibatches of subsampled plates; "
                          "this model has none (declare one with 'plate n in N, subsample=B').")  # fmt: skip
    for plate, b in plates.items():
        if b % world:
            raise OptionError(f"The minibatch of plate '{plate}' (subsample={b}) does not split evenly over {world} "
                              f"processes; use a subsample divisible by {world}.")  # fmt: skip


def ddp(module: torch.nn.Module) -> torch.nn.Module:
    """``module`` wrapped by DistributedDataParallel (its parameters are already equal everywhere)."""
    from torch.nn.parallel import DistributedDataParallel

    return DistributedDataParallel(module, static_graph=True)


# ---------------------------------------------------------------- local launch


def launch(nprocs: int, worker, args: tuple, threads: int | None = None) -> None:
    """Run ``worker(*args)`` in ``nprocs`` spawned processes of one group (localhost); a process that
    raises a zsdsl error ends the run with that error, one that dies with a ``DistributedError``."""
    from torch.multiprocessing import ProcessExitedException, ProcessRaisedException, start_processes

    threads = threads or max(1, torch.get_num_threads() // nprocs)
    logging.getLogger("torch.multiprocessing.spawn").setLevel(logging.ERROR)  # our message says what ended
    with tempfile.TemporaryDirectory(prefix="zsdsl-ranks-") as tmp:
        port = _free_port()
        ctx = start_processes(_entry, args=(worker, args, nprocs, port, threads, tmp), nprocs=nprocs, join=False,
                              start_method="spawn")  # fmt: skip
        try:
            while not ctx.join():
                pass
        except ProcessRaisedException as exc:  # not a zsdsl error: a bug, shown as one
            raise errors.InternalError(f"process {exc.error_index} of {nprocs} raised:\n{exc}") from None
        except ProcessExitedException as exc:
            raise _rank_error(Path(tmp), exc.error_index, exc.exit_code, nprocs) from None


def _entry(rank, worker, args, nprocs, port, threads, tmp):
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(nprocs), LOCAL_WORLD_SIZE=str(nprocs),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))  # fmt: skip
    if "OMP_NUM_THREADS" not in os.environ:
        torch.set_num_threads(threads)
    try:
        worker(*args)
        leave(sync=True)
    except errors.ZsdslError as exc:
        span = exc.span
        record = {"kind": type(exc).__name__, "message": exc.message, "hint": exc.hint,
                  "span": [span.line, span.col, span.end_line, span.end_col, span.file]}  # fmt: skip
        (Path(tmp) / f"rank-{rank}.json").write_text(json.dumps(record))
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)
    finally:
        leave()


def _rank_error(tmp: Path, rank: int, code: int, nprocs: int) -> Exception:
    """The error of the run: the zsdsl error a process reported (rank 0's first), else how it died."""
    for r in [0, *range(nprocs)]:
        path = tmp / f"rank-{r}.json"
        if path.exists():
            rec = json.loads(path.read_text())
            cls = getattr(errors, rec["kind"], errors.UsageError)
            return cls(rec["message"], errors.Span(*rec["span"]), rec["hint"])
    how = f"was killed by signal {-code} ({signal.Signals(-code).name})" if code < 0 else f"exited with status {code}"
    return DistributedError(f"Process {rank} of {nprocs} {how}; the run was stopped in every process.")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def current() -> Group | None:
    """The group this process has joined, or None."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        return Group(dist.get_rank(), dist.get_world_size())
    return None


class LossModule(torch.nn.Module):
    """An objective's loss as a module, for DDP: ``forward(subsample) -> (loss, bound)``; it holds
    the model, the guide and the objective's own parameters (a learned baseline)."""

    def __init__(self, objective, model, guide, data):
        super().__init__()
        self.model, self.guide = model, guide
        self.extra = torch.nn.ParameterList(objective.parameters())
        self._objective, self._data = objective, data

    def forward(self, subsample):
        return self._objective.loss(self.model, self.guide, self._data, subsample)
