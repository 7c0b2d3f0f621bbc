"""Process-level performance settings the engines apply once before they run.

``tune_allocator`` keeps large CPU tensor buffers in glibc's heap instead of fresh ``mmap``
regions: by default each training step of a deep model frees and maps again its tens of
megabytes of activations, and page faults on the new pages can cost as much as the maths
(measured in ``benchmarks/vae_step.py``: IWAE k=50 steps ~1.4x slower). The heap then keeps its
peak size for the life of the process, the trade-off PyTorch's CPU tuning guide makes with
jemalloc/tcmalloc. Set ``ZSDSL_MALLOC_TUNING=0`` to leave the allocator alone.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3
_done = False


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds (idempotent); False where it does not apply."""
    global _done
    if _done:
        return True
    if os.environ.get("ZSDSL_MALLOC_TUNING", "1") == "0":
        return False
    name = ctypes.util.find_library("c")
    if not name:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (macOS, musl without mallopt)
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    # 1 GiB: buffers below it come from the heap; the heap is trimmed only above 2 GiB of free top.
    ok = mallopt(_M_MMAP_THRESHOLD, 1 << 30) == 1 and mallopt(_M_TRIM_THRESHOLD, (1 << 31) - 1) == 1
    _done = ok
    return ok
