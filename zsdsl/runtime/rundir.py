"""Run directories: the one place that creates, names, locks, checks and reopens them.

A run directory belongs to one run. ``run.json`` records what it is: its kind (``vi`` for
``zsdsl fit``, ``mcmc`` for NUTS/HMC, ``sgmcmc``, ``sbc``), the spec and data it was made from
(paths and SHA-256 digests of the spec text and of the prepared data) and the zsdsl version.

- ``create_run`` starts a run: a directory that holds anything is refused (nothing touched)
  unless ``overwrite``, which empties it first, and only when it is a zsdsl run or empty; runs
  never mix.
- ``open_run`` reopens a run to read it (``evaluate``, ``summary``) or continue it (``--resume``),
  refusing one of another kind; ``check_resume`` compares the spec, the data and every option
  that cannot change within a run against the saved record and names each difference.
- Every writer holds an exclusive lock (``flock`` on ``.lock``) for as long as it runs, so two
  processes never write one run.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import hashlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zsdsl.errors import RunDirError
from zsdsl.runtime.mapped import MappedField, blocks
from zsdsl.runtime.options import flag

MANIFEST = "run.json"
LOCK = ".lock"
KINDS = {
    "vi": "a variational fit (zsdsl fit)",
    "gan": "an adversarial fit (zsdsl fit --infer gan/wgan-gp)",
    "mcmc": "an MCMC run (zsdsl sample --nuts/--hmc)",
    "sgmcmc": "an SG-MCMC run (zsdsl sample --sgld/--psgld/--sghmc/--sgnht)",
    "sbc": "a simulation-based calibration (zsdsl sbc)",
    "prior": "prior draws (zsdsl sample --prior)",
}
_CONTINUE = {"vi": "zsdsl fit --resume", "gan": "zsdsl fit --resume", "mcmc": "zsdsl sample --resume"}


@dataclass
class Run:
    """An open run directory; ``record`` is its ``run.json`` (empty for runs written before it)."""

    path: Path
    kind: str
    record: dict = field(default_factory=dict)
    _lock_fd: int | None = None
    created: bool = False  # this process made the directory (it held nothing before)

    @property
    def config(self) -> dict:
        """The run's ``config.json`` (the options it was started with)."""
        return json.loads((self.path / "config.json").read_text())

    def lock(self) -> Run:
        """Hold the run's exclusive lock until this process ends (or ``release``)."""
        if self._lock_fd is not None:
            return self
        fd = os.open(self.path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 64).decode(errors="replace").strip() or "another process"
            os.close(fd)
            raise RunDirError(f"{self.path} is being written by another zsdsl process (pid {holder}); "
                              "wait for it to finish or use another directory.") from None  # fmt: skip
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._lock_fd = fd
        return self

    def discard_if_unused(self) -> None:
        """After a run that failed before it saved anything (no checkpoint, no draws): remove what
        ``create_run`` wrote, so that the same command can be run again once the cause is fixed."""
        if not self.created or any((self.path / "checkpoints").glob("*")) or any(self.path.glob("chain_*.csv")):
            return
        metrics = self.path / "metrics.csv"
        if metrics.exists() and len(metrics.read_text().splitlines()) > 1:
            return  # steps were logged: keep them
        for name in (MANIFEST, "config.json", "metrics.csv", "valid.csv"):
            (self.path / name).unlink(missing_ok=True)
        ckdir = self.path / "checkpoints"
        if ckdir.is_dir() and not any(ckdir.iterdir()):
            ckdir.rmdir()
        self.release()
        (self.path / LOCK).unlink(missing_ok=True)
        if not any(self.path.iterdir()):
            self.path.rmdir()

    def release(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the descriptor drops the flock
            self._lock_fd = None


def spec_text(compiled) -> str:
    """The text a compiled model was made from (its generated source when built from source)."""
    return compiled.text if compiled.text is not None else compiled.source


def spec_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def data_digest(data: dict) -> str:
    """A digest of the values (not the file): the same data in JSON or NPZ digests alike."""
    h = hashlib.sha256()
    for key in sorted(data):
        value = data[key]
        if isinstance(value, MappedField):  # memory-mapped: read in blocks of rows below
            value = value.array
        if hasattr(value, "detach"):
            value = value.detach().cpu().numpy()
        arr = np.asarray(value)
        if arr.dtype.kind in "iub":
            kind = np.int64
        elif arr.dtype.kind == "f":
            kind = np.float64
        else:
            continue
        h.update(f"{key}:{arr.shape}:{np.dtype(kind).kind};".encode())
        for _, block in blocks(arr):
            h.update(np.ascontiguousarray(block.astype(kind)).tobytes())
    return h.hexdigest()


def default_run_path(spec: str, method: str) -> Path:
    """``runs/<spec stem>-<method>``, or the first ``-2``, ``-3``, ... that holds nothing."""
    base = Path("runs") / f"{Path(str(spec)).name.split('.')[0]}-{method}"
    path, n = base, 1
    while _holds_files(path):
        n += 1
        path = base.with_name(f"{base.name}-{n}")
    return path


def _holds_files(path: Path) -> bool:
    return path.is_dir() and any(path.iterdir())


def create_run(path: Path, kind: str, spec: str, spec_text: str, data_path: str, data: dict,
               overwrite: bool = False) -> Run:  # fmt: skip
    """Start a new run in ``path`` (created if missing) and lock it."""
    path = Path(path)
    if path.exists() and not path.is_dir():
        raise RunDirError(f"{path} is a file, not a directory; choose another --out.")
    if _holds_files(path):
        held = _kind_of(path)
        if not overwrite:
            what = KINDS[held] if held else "files that are not a zsdsl run"
            hint = f", {_CONTINUE[held]} {path} to continue it" if held in _CONTINUE else ""
            raise RunDirError(f"{path} already holds {what}; use --overwrite to replace it{hint}, or another --out. "
                              "Nothing was changed.")  # fmt: skip
        if held is None:
            raise RunDirError(f"{path} holds files that are not a zsdsl run; --overwrite empties run directories "
                              "only. Choose another --out. Nothing was changed.")  # fmt: skip
    created = not _holds_files(path)
    path.mkdir(parents=True, exist_ok=True)
    # locked before emptying: a run being written by another process is left alone
    run = Run(path, kind, created=created).lock()
    if overwrite:
        for child in path.iterdir():
            if child.name == LOCK:
                continue
            shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
    from zsdsl.runtime.checkpoint import atomic_write_text
    from zsdsl.version import __version__

    run.record = {
        "kind": kind,
        "spec": str(spec),
        "spec_sha256": spec_digest(spec_text),
        "data": str(data_path or ""),
        "data_sha256": data_digest(data),
        "zsdsl": __version__,
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }
    atomic_write_text(path / MANIFEST, json.dumps(run.record, indent=2) + "\n")
    return run


def _kind_of(path: Path) -> str | None:
    """The kind of the run in ``path`` from ``run.json``, or guessed from an older ``config.json``."""
    try:
        return json.loads((path / MANIFEST).read_text())["kind"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        config = json.loads((path / "config.json").read_text())
    except (OSError, ValueError):
        return "sbc" if (path / "sbc.json").exists() else None
    if "infer" in config:
        return "vi"
    from zsdsl.runtime.options import SG_METHODS

    return "sgmcmc" if config.get("method") in SG_METHODS else "mcmc" if "method" in config else None


def open_run(path: Path, kinds: tuple[str, ...], purpose: str) -> Run:
    """An existing run of one of ``kinds``, for ``purpose`` (e.g. "zsdsl evaluate reads")."""
    path = Path(path)
    if not path.is_dir():
        raise RunDirError(f"{path} is not a run directory: it does not exist.")
    kind = _kind_of(path)
    if kind is None:
        raise RunDirError(f"{path} is not a zsdsl run directory (no run.json or config.json).")
    if kind not in kinds:
        if kind == "sgmcmc" and "mcmc" in kinds and "resume" in purpose:
            raise RunDirError(f"{path} holds {KINDS[kind]}: --resume continues NUTS and HMC runs; SG-MCMC runs are "
                              "not checkpointed.")  # fmt: skip
        wanted = " or ".join(KINDS[k].split(" (")[0] for k in kinds)
        raise RunDirError(f"{path} holds {KINDS[kind]}; {purpose} {wanted}.")
    try:
        record = json.loads((path / MANIFEST).read_text())
    except (OSError, ValueError):
        record = {}  # written before run.json existed
    return Run(path, kind, record)


def check_resume(run: Run, spec_text: str, data: dict, saved: dict, given: dict, changeable: tuple[str, ...]) -> list:
    """Refuse to continue ``run`` with another spec, other data or a changed fixed option.

    ``given`` holds the options given with ``--resume`` (name -> value); those in ``changeable``
    may differ from ``saved``. Returns notes to show (a run too old to have digests).
    """
    diffs, notes = [], []
    rec = run.record
    if rec.get("spec_sha256"):
        if spec_digest(spec_text) != rec["spec_sha256"]:
            diffs.append(f"the model ({rec['spec']}) is not the one the run was made from")
        if data_digest(data) != rec["data_sha256"]:
            diffs.append(f"the data differ from the run's ({rec['data'] or 'no data'})")
    else:
        notes.append(f"{run.path} predates run.json: its spec and data could not be compared")
    for name, value in given.items():
        if name in changeable or name not in saved:
            continue
        if _norm(saved[name]) != _norm(value):
            if name == "method":  # given as a flag: --hmc, --nuts, ...
                diffs.append(f"--{value} (the run used --{saved[name]})")
            else:
                diffs.append(f"{flag(name)} {value} (the run has {saved[name]})")
    if diffs:
        raise RunDirError(f"Cannot resume {run.path}: " + "; ".join(diffs) + ". Start a new run with another --out "
                          "(or --overwrite) to change these.")  # fmt: skip
    return notes


def _norm(v):
    return float(v) if isinstance(v, int | float) and not isinstance(v, bool) else v


def apply_resume_changes(config, given: dict, changeable: tuple[str, ...]) -> None:
    """Set the options a resumed run may change; a new ``steps`` or ``epochs`` replaces the other."""
    for name in changeable:
        if name in given:
            setattr(config, name, given[name])
    if "steps" in given:
        config.epochs = None
    elif "epochs" in given:
        config.steps = None


@contextlib.contextmanager
def kept_if_used(run: Run | None, resume: bool):
    """Around a run's work: a new run that fails before writing anything is removed (a resumed one is
    kept as it was); the lock is released either way."""
    try:
        yield
    except BaseException:
        if run is not None and not resume:
            run.discard_if_unused()
        raise
    finally:
        if run is not None:
            run.release()
