"""A ``scan`` operation as code: the forward loop keeps each step's values (its tape), the adjoint loop
runs back over the steps.

Forward, in the enclosing function: ``sK_step(t, *carries)`` returns the carries' next values, the
step's outputs and its tape; the loop stacks the outputs and leaves the last carries in ``sK_c``.
Reverse: ``sK_back(tape, *g_next_carries, *g_read, *g_outputs)`` runs the step's adjoints (the same
rules as the model's, ``emit.reverse_ops``) and returns the adjoints of the carries it was given and the
read values' adjoints with this step's share added (in place where a rule scatters, so reading
``lo[:, t]`` costs one column per step, not a new array); the loop starts from the last carries'
adjoints (zero where unread) and zero for the read values.
"""

from __future__ import annotations


def tup(items) -> str:
    items = list(items)
    return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"


def _tape(spec) -> list[str]:
    """What a step keeps for its adjoints: the index, the carries it was given and every value it computed."""
    return [spec.index.name, *(v.name for v in spec.carries_in), *(o.out.name for o in spec.ops)]


def _indent(lines: list[str]) -> list[str]:
    return ["    " + line for line in lines]


def forward(op, fast: bool, forward_ops) -> list[str]:
    """``forward_ops`` (``emit.forward_ops``, passed in: this module is its helper, not its importer)."""
    spec, k = op.spec, op.spec.key
    nc = len(spec.carries_in)
    start, stop = op.args[0].name, op.args[1].name
    inits = [a.name for a in op.args[2 : 2 + nc]]
    body: list[str] = []
    forward_ops(spec.ops, body, fast)
    lines = [f"def {k}_step({', '.join([spec.index.name, *(v.name for v in spec.carries_in)])}):"]
    lines += _indent(body)
    lines.append(f"    return {tup(v.name for v in spec.carries_out)}, {tup(v.name for v in spec.outputs)}, "
                 f"{tup(_tape(spec))}")  # fmt: skip
    lines += [
        f"{k}_c, {k}_y, {k}_tape = {tup(inits)}, [], []",
        f"for {k}_t in range({start}, {stop}):",
        f"    {k}_c, {k}_o, {k}_p = {k}_step({k}_t, *{k}_c)",
        f"    {k}_y.append({k}_o)",
        f"    {k}_tape.append({k}_p)",
    ]
    stacked = [f"np.array([o[{j}] for o in {k}_y])" for j in range(len(spec.outputs))]
    lines.append(f"{op.out.name} = {tup([f'*{k}_c', *stacked])}")
    return lines


def reverse(op, back, fast: bool, reverse_ops) -> None:
    """Append the adjoint loop to ``back``'s lines and add the adjoints of the scan's arguments to ``back``;
    ``reverse_ops`` as ``forward``'s ``forward_ops``; the step's accumulator is of ``back``'s class."""
    spec, k = op.spec, op.spec.key
    nc = len(spec.carries_in)
    inits = list(op.args[2 : 2 + nc])
    moving = [(outer, inner) for outer, inner in spec.captured if not outer.data]
    if all(a.data for a in inits) and not moving:
        return
    seeds_in = [
        back.exact(spec.gets[i]) if i in spec.gets and spec.gets[i].name in back.acc else f"np.zeros_like({k}_c[{i}])"
        for i in range(nc)
    ]
    outs = [j for j in range(len(spec.outputs)) if nc + j in spec.gets and spec.gets[nc + j].name in back.acc]
    outs_g = {j: back.exact(spec.gets[nc + j]) for j in outs}
    lines = _back_function(spec, outs, moving, fast, type(back), reverse_ops)
    zeros = tup(f"np.zeros_like({outer.name})" for outer, _ in moving)
    lines += [
        f"{k}_gc, {k}_gr = {tup(seeds_in)}, {zeros}",
        f"for {k}_i in range(len({k}_tape) - 1, -1, -1):",
        f"    {k}_gc, {k}_gr = {k}_back({k}_tape[{k}_i], *{k}_gc, *{k}_gr"
        f"{''.join(f', {outs_g[j]}[{k}_i]' for j in outs)})",
    ]
    back.lines.extend(lines)
    for i, init in enumerate(inits):
        if not init.data:
            back.add(init, f"{k}_gc[{i}]", init.shape)
    for j, (outer, _) in enumerate(moving):
        back.add(outer, f"{k}_gr[{j}]", outer.shape)


def _back_function(spec, outs: list, moving: list, fast: bool, reverse_cls, reverse_ops) -> list[str]:
    k = spec.key
    gn = [f"{k}_gn{i}" for i in range(len(spec.carries_in))]
    go = [f"{k}_go{j}" for j in outs]
    body: list[str] = []
    body.append(f"{tup(_tape(spec))} = {k}_p")
    vals = {v.name: v for v in (spec.index, *spec.carries_in, *(o.out for o in spec.ops))}
    vals.update({inner.name: inner for _, inner in spec.captured})
    inner_back = reverse_cls(vals, body)
    gr = [f"g_{inner.name}" for _, inner in moving]
    for name, (_, inner) in zip(gr, moving, strict=True):
        # the read values' adjoints are threaded through the steps (a scatter adds in place): one array each
        inner_back.acc[inner.name] = [name, inner.shape, True]
    for name, v in zip(gn, spec.carries_out, strict=True):
        if v.const is None and not v.data:
            inner_back.add(v, name, v.shape)
    for name, j in zip(go, outs, strict=True):
        v = spec.outputs[j]
        if v.const is None and not v.data:
            inner_back.add(v, name, v.shape)
    reverse_ops(spec.ops, inner_back, body, fast)
    g_in = [inner_back.exact(v) if v.name in inner_back.acc else f"np.zeros_like({v.name})" for v in spec.carries_in]
    g_cap = [inner_back.exact(inner) for _, inner in moving]
    body.append(f"return {tup(g_in)}, {tup(g_cap)}")
    head = f"def {k}_back({', '.join([f'{k}_p', *gn, *gr, *go])}):"
    return [head, *_indent(body)]
