"""``scan``: the runtime of the language's ``scan`` loop (a step function over a range, carrying state).

The generated code defines the step as a nested function ``step(t, *carries) -> (carries, outputs)``
and calls ``scan(step, start, stop, inits, carry_names, output_names, output_ranks)``, which returns a
dict: each carry's last value and each output stacked over the steps as the first of its element dims
(``output_ranks`` gives each output's element rank per step; sample dims stay in front). A step's
values may gain sample dims from one step to the next (a carry that starts as a constant): the stacked
outputs broadcast them.
"""

from __future__ import annotations

import torch

from zsdsl.errors import DataError
from zsdsl.runtime.lib.functions import stack_along


def scan(step, start, stop, inits, carry_names, output_names, output_ranks, bounds=()):
    start, stop = int(start), int(stop)
    for lo, hi, size, what in bounds:  # indices t + c whose range the sizes did not decide at compile time
        if lo < 0 or hi >= size:
            bad = lo if lo < 0 else hi
            raise DataError(f"With this data {what} reaches {bad}, outside a dimension of size {size} "
                            f"(the scan runs t = {start} to {stop - 1}).")  # fmt: skip
    if stop <= start:
        raise DataError(f"With this data the scan runs no steps (range({start}, {stop})).")
    carries = tuple(inits)
    per_step: list[list] = [[] for _ in output_names]
    for t in range(start, stop):
        carries, outs = step(t, *carries)
        for acc, value in zip(per_step, outs, strict=True):
            acc.append(value)
    result = dict(zip(carry_names, carries, strict=True))
    for name, values, rank in zip(output_names, per_step, output_ranks, strict=True):
        # a step's constant output is a Python number; an integer output keeps its dtype
        values = [v if torch.is_tensor(v) else torch.as_tensor(v, dtype=torch.get_default_dtype()) for v in values]
        result[name] = stack_along(values, rank)
    return result
