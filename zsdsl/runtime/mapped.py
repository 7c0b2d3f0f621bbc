"""Data fields larger than memory: memory-mapped arrays whose minibatch rows are gathered on demand.

A field read from a ``.npy`` file, or from an uncompressed (``np.savez``) member of an ``.npz``
file, of at least ``MIN_BYTES`` (64 MiB; ``ZSDSL_MMAP_MIN_BYTES`` overrides it, 0 maps every
one) is memory-mapped, not read (``map_npy``, ``map_npz_member``). The prepared data hold it as a
``MappedField``: generated code reaches a subsampled field's rows only through
``plates.take_plate``, which calls ``index_select`` on the plate's axis, and that gathers the
minibatch's rows from the map and converts just those to the model's dtype. The operating system
pages the file in and out, so a data set larger than RAM trains in the memory of its minibatches.

Only a variational fit keeps fields mapped (``CompiledModel.load_data(mapped=True)``); every other
engine reads them whole, as does a fit for a field that is not the rows of a subsampled plate
(``settle_mapped``, with a note). Whole-array reads of a kept map (the data check, the run's
digest) go over it in blocks of rows (``blocks``); the guide's draws over all rows are skipped for
such a run, with a note.
"""

from __future__ import annotations

import os
import sys
import zipfile

import numpy as np

from zsdsl.errors import DataError

MIN_BYTES = 64 << 20
BLOCK_BYTES = 16 << 20  # rows read at a time by whole-array passes


def min_bytes() -> int:
    return int(os.environ.get("ZSDSL_MMAP_MIN_BYTES", MIN_BYTES))


def map_npy(path) -> np.ndarray:
    """A ``.npy`` file: memory-mapped if it is large (``min_bytes``), else read."""
    arr = np.load(path, mmap_mode="r", allow_pickle=False)
    return arr if arr.nbytes >= min_bytes() and arr.ndim else np.array(arr)


def map_npz_member(path, name: str) -> np.ndarray | None:
    """An uncompressed ``.npz`` member as a read-only memory map, or None (compressed, or small)."""
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo(name + ".npy")
        if info.compress_type != zipfile.ZIP_STORED or info.file_size < min_bytes():
            return None
        with zf.open(info) as fh:
            version = np.lib.format.read_magic(fh)
            if version not in ((1, 0), (2, 0)):
                return None
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
                np.lib.format.read_array_header_2_0  # fmt: skip
            shape, fortran, dtype = read_header(fh)
            header = fh.tell()
    with open(path, "rb") as raw:  # the member's data start after its local header and its npy header
        raw.seek(info.header_offset)
        local = raw.read(30)
        name_len, extra_len = int.from_bytes(local[26:28], "little"), int.from_bytes(local[28:30], "little")
        start = info.header_offset + 30 + name_len + extra_len
    if dtype.hasobject:
        return None
    return np.memmap(path, dtype=dtype, mode="r", offset=start + header, shape=shape, order="F" if fortran else "C")


def is_mapped(value) -> bool:
    return isinstance(value, np.memmap) or isinstance(getattr(value, "base", None), np.memmap)


def blocks(arr: np.ndarray):
    """``(first row, rows)`` blocks of a (mapped) array, about ``BLOCK_BYTES`` each."""
    if arr.ndim == 0 or arr.shape[0] == 0:
        yield 0, np.asarray(arr)
        return
    step = max(1, BLOCK_BYTES // max(1, arr[:1].nbytes))
    for start in range(0, arr.shape[0], step):
        yield start, np.asarray(arr[start : start + step])


class MappedField:
    """A memory-mapped data field as generated code uses it: ``shape``, ``dim()``, ``index_select``
    (rows gathered and converted to ``dtype``), never ``requires_grad``."""

    requires_grad = False

    def __init__(self, name: str, array: np.ndarray, dtype):
        import torch  # (this module is imported by the data readers, which do not need torch)

        self.name, self.array, self.dtype = name, array, dtype
        self.shape = torch.Size(array.shape)

    def dim(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return self.shape[0]

    def index_select(self, dim: int, idx):
        import torch

        rows = np.take(self.array, idx.cpu().numpy(), axis=dim)  # reads those rows only
        return torch.from_numpy(np.ascontiguousarray(rows)).to(self.dtype).to(idx.device)

    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        field = next(a for a in (*args, *(kwargs or {}).values()) if isinstance(a, MappedField))
        size = field.array.nbytes / 2**20
        raise DataError(f"The data field '{field.name}' is memory-mapped ({size:.0f} MiB, at least "
                        "ZSDSL_MMAP_MIN_BYTES): only minibatch rows of a subsampled plate are read from it, and this "
                        f"computation ({getattr(func, '__name__', func)}) needs the whole field. Subsample its plate, "
                        "or raise ZSDSL_MMAP_MIN_BYTES above its size to read it into memory.")  # fmt: skip

    def tensor(self):
        """The whole field, read into memory."""
        import torch

        return torch.from_numpy(np.array(self.array)).to(self.dtype)

    def __repr__(self) -> str:
        return f"MappedField({self.name!r}, shape={tuple(self.shape)}, {self.array.dtype} -> {self.dtype})"


def settle_mapped(model, data: dict) -> dict:
    """``data`` with each memory-mapped field that is not the rows of a subsampled plate read into memory
    (only a minibatch's rows are ever read from a map, and such a field is used whole), with a note."""
    from zsdsl.runtime.lib.plates import subsampled_plates  # (torch: only when a fit uses maps)

    sizes = model.plate_sizes()
    batched = {int(sizes[p]) for p in subsampled_plates(sizes, model.plate_subsample)}
    out = dict(data)
    for name, value in data.items():
        if isinstance(value, MappedField) and (value.dim() == 0 or value.shape[0] not in batched):
            print(f"note: the data field '{name}' ({value.array.nbytes / 2**20:.0f} MiB) is read into memory: its "
                  "rows are not those of a subsampled plate, so the model uses it whole.", file=sys.stderr)  # fmt: skip
            out[name] = value.tensor()
    return out
