"""Progress of long loops: rich bars on a terminal; off a terminal (a log file, CI, a batch job) one
plain line about every ``EVERY_S`` seconds on stderr; nothing with ``--quiet``.

``ChainProgress`` follows MCMC chains (warmup, then sampling), ``FitProgress`` a VI fit's steps and
its bound; the engines call their ``update``. The CLI uses both as above; the VI trainer's default
(the Python API) is a ``FitProgress`` with the bar only.
"""

from __future__ import annotations

import sys
import time

EVERY_S = 10.0


class _Lines:
    """Plain progress lines at most every ``EVERY_S`` seconds (and a first one at once)."""

    def __init__(self):
        self.t0 = time.perf_counter()
        self.last = -EVERY_S

    def due(self) -> bool:
        now = time.perf_counter() - self.t0
        if now - self.last >= EVERY_S:
            self.last = now
            return True
        return False

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0


class ChainProgress:
    """One rich bar per chain on a terminal; otherwise a line per ~10 s with every chain's phase, step size
    and last tree depth (a chain stuck at a tiny step and the maximum depth shows it)."""

    def __init__(self, chains: int, warmup: int, draws: int, quiet: bool = False):
        self.live = sys.stderr.isatty() and not quiet
        self.log = not sys.stderr.isatty() and not quiet
        self.chains, self.warmup, self.total = chains, warmup, warmup + draws
        self.done = [0] * chains
        self.tuning: list[tuple] = [(None, None)] * chains

    @property
    def callback(self):
        return self.update if (self.live or self.log) else None

    def __enter__(self):
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                TimeRemainingColumn(), transient=True)  # fmt: skip
            self.tasks = [self.bar.add_task(f"chain {c + 1}", total=self.total) for c in range(self.chains)]
            self.bar.start()
        self.lines = _Lines()
        return self

    def update(self, chain: int, done: int, step_size: float | None = None, depth: int | None = None) -> None:
        """Chain ``chain`` has run ``done`` iterations; its step size and last tree depth, where known."""
        self.done[chain] = done
        self.tuning[chain] = (step_size, depth)
        if self.live:
            desc = f"chain {chain + 1}{self._tuning(chain, done)}"
            self.bar.update(self.tasks[chain], completed=done, description=desc)
        elif self.log and self.lines.due():
            parts = [f"chain {c + 1} {self._phase(d)}{self._tuning(c, d)}" for c, d in enumerate(self.done)]
            print(f"[{self.lines.elapsed():.0f} s] " + "; ".join(parts), file=sys.stderr)

    def _phase(self, done: int) -> str:
        if done < self.warmup:
            return f"warmup {done}/{self.warmup}"
        return f"sampling {done - self.warmup}/{self.total - self.warmup}" if done < self.total else "done"

    def _tuning(self, chain: int, done: int) -> str:
        step, depth = self.tuning[chain]
        if step is None or done == 0 or done >= self.total:
            return ""
        return f" (step {step:.2g}" + (f", depth {depth})" if depth is not None else ")")

    def __exit__(self, *exc):
        if self.live:
            self.bar.stop()
        return False


class FitProgress:
    """A rich bar on a terminal; otherwise a line per ~10 s: step, epoch, the bound in total and per point."""

    def __init__(self, label: str, quiet: bool = False, live: bool | None = None, log: bool | None = None):
        """The CLI's by default; ``live``/``log`` set the bar and the plain lines explicitly."""
        self.live = (sys.stderr.isatty() and not quiet) if live is None else live
        self.log = (not sys.stderr.isatty() and not quiet) if log is None else log
        self.label = label

    def __call__(self, total: int, start: int, points: int):
        """The engine's bar for ``total`` steps from ``start``; the bound is over ``points`` data points."""
        self.total, self.points = total, max(points, 1)
        self.lines = _Lines()
        if self.live:
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self.bar = Progress(TextColumn("fit"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                                TextColumn(self.label + " {task.fields[obj]}"), TimeRemainingColumn(),
                                transient=True)  # fmt: skip
            self.task = self.bar.add_task("fit", total=total, completed=start, obj="-")
            self.bar.start()
        return self

    def update(self, step: int, value: float) -> None:
        if self.live:
            self.bar.update(self.task, completed=step, obj=f"{value:.4g}")
        elif self.log and (self.lines.due() or step == self.total):
            print(f"[{self.lines.elapsed():.0f} s] fit step {step}/{self.total}: {self.label} {value:.6g} "
                  f"({value / self.points:.6g} per data point)", file=sys.stderr)  # fmt: skip

    def close(self) -> None:
        if self.live:
            self.bar.stop()
