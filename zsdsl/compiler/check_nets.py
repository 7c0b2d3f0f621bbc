"""Net constructors: validate a ``nets:`` entry and propagate element shapes through it.

``parse_net`` turns the AST call into a list of layers (ctor, settings);
``propagate`` runs an input element shape through them at the first call site,
fixing sizes that depend on the input (Reshape/Flatten/Conv spatial dims).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from zsdsl.compiler.ir import Dim, Shape
from zsdsl.compiler.shapes import dim_op, fmt_shape
from zsdsl.grammar import ast as A

ACTIVATIONS = ("relu", "tanh", "sigmoid", "softplus", "elu", "leaky_relu", "gelu", "softmax", "identity")
NET_CTORS = ("Linear", "MLP", "Conv2d", "ConvTranspose2d", "Reshape", "Flatten", "Embedding", "Sequential")


class NetError(Exception):
    def __init__(self, message: str, span):
        super().__init__(message)
        self.span = span


@dataclass
class NetInfo:
    name: str
    ctor: str
    layers: list[tuple[str, dict]]
    span: object
    prior: A.Call | None = None
    in_shape: Shape | None = None
    out_shape: Shape | None = None
    weight_shapes: list[tuple[str, Shape]] = field(default_factory=list)


def parse_net(decl: A.NetDecl, eval_dim) -> NetInfo:
    call = decl.value
    if not isinstance(call, A.Call) or call.func not in NET_CTORS:
        what = call.func if isinstance(call, A.Call) else "this expression"
        raise NetError(f"'{what}' is not a net constructor; use one of {', '.join(NET_CTORS)}.", call.span)
    prior = call.kwarg("prior")
    if prior is not None and call.func not in ("Linear", "MLP"):
        raise NetError("prior= (latent weights) is supported on Linear and MLP nets.", prior.span)
    layers = _layers(call, eval_dim)
    info = NetInfo(decl.name, call.func, layers, decl.span, prior.value if prior else None)
    if prior is not None and not isinstance(info.prior, A.Call):
        raise NetError("prior= takes a distribution, e.g. prior=Normal(0, 1).", prior.span)
    if call.func in ("Linear", "MLP"):
        info.weight_shapes = _weight_shapes(layers)
    return info


def _sizes(arg, eval_dim, ctor, span) -> list[Dim]:
    if not isinstance(arg, A.Arrow):
        raise NetError(f"{ctor} takes its sizes as 'in -> out', e.g. {ctor}(784 -> 500).", span)
    return [eval_dim(e) for e in arg.items]


def _kw(call: A.Call, allowed: dict) -> dict:
    out = {}
    for k in call.kwargs:
        if k.name == "prior":
            continue
        if k.name not in allowed:
            raise NetError(f"{call.func} has no argument '{k.name}'; it takes {', '.join(allowed)}.", k.span)
        out[k.name] = k.value
    return {**{k: v for k, v in allowed.items() if v is not None}, **out}


def _name_of(expr, what, choices) -> str:
    if not isinstance(expr, A.Name) or expr.id not in choices:
        raise NetError(f"{what} must be one of {', '.join(choices)}.", getattr(expr, "span", None))
    return expr.id


def _int_of(expr, what, eval_dim) -> int:
    d = eval_dim(expr) if not isinstance(expr, int) else expr
    if not isinstance(d, int):
        raise NetError(f"{what} must be a constant integer.", expr.span)
    return d


def _layers(call: A.Call, eval_dim) -> list[tuple[str, dict]]:
    f, span = call.func, call.span
    if f in ("Linear", "MLP"):
        if len(call.args) != 1:
            raise NetError(
                f"{f} takes one positional argument, its sizes 'a -> b{' -> ...' if f == 'MLP' else ''}'.", span
            )
        sizes = _sizes(call.args[0], eval_dim, f, span)
        if f == "Linear" and len(sizes) != 2:
            raise NetError("Linear takes exactly two sizes: Linear(in -> out).", call.args[0].span)
        kw = _kw(call, {"act": None, "out": None} if f == "MLP" else {})
        act = _name_of(kw["act"], "act", ACTIVATIONS) if "act" in kw else "relu"
        out = _name_of(kw["out"], "out", ACTIVATIONS) if "out" in kw else None
        settings = {"sizes": sizes} if f == "Linear" else {"sizes": sizes, "act": act, "out": out}
        return [(f, settings)]
    if f in ("Conv2d", "ConvTranspose2d"):
        if len(call.args) != 1:
            raise NetError(f"{f} takes channels as 'c_in -> c_out' and kernel=, stride=, padding=.", span)
        chans = _sizes(call.args[0], eval_dim, f, span)
        kw = _kw(call, {"kernel": None, "stride": 1, "padding": 0})
        if "kernel" not in kw:
            raise NetError(f"{f} needs kernel=, e.g. {f}(1 -> 32, kernel=4, stride=2, padding=1).", span)
        ints = {k: (v if isinstance(v, int) else _int_of(v, k, eval_dim)) for k, v in kw.items()}
        return [(f, {"sizes": chans, **ints})]
    if f == "Reshape":
        _kw(call, {})
        return [(f, {"out_shape": [eval_dim(a) for a in call.args]})]
    if f == "Flatten":
        _kw(call, {})
        return [(f, {})]
    if f == "Embedding":
        return [(f, {"sizes": _sizes(call.args[0], eval_dim, f, span) if call.args else []})]
    layers = []
    for item in call.args:
        if isinstance(item, A.Name) and item.id in ACTIVATIONS:
            layers.append(("Activation", {"name": item.id}))
        elif isinstance(item, A.Call) and item.func in NET_CTORS and item.func != "Sequential":
            layers.extend(_layers(item, eval_dim))
        else:
            raise NetError("Sequential takes layers (Linear, Conv2d, ...) and activation names.", item.span)
    return layers


def _weight_shapes(layers) -> list[tuple[str, Shape]]:
    sizes = layers[0][1]["sizes"]
    out = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        out += [(f"W{i}", (b, a)), (f"b{i}", (b,))]
    return out


def propagate(info: NetInfo, in_shape: Shape, span) -> Shape:
    """Run ``in_shape`` through the layers, filling input-dependent settings; returns the output shape."""
    shape = tuple(in_shape)
    for ctor, s in info.layers:
        shape = _step(ctor, s, shape, span)
    return shape


def _need(cond: bool, message: str, span) -> None:
    if not cond:
        raise NetError(message, span)


def _step(ctor: str, s: dict, shape: Shape, span) -> Shape:
    if ctor in ("Linear", "MLP"):
        _need(len(shape) >= 1, f"{ctor} needs a vector input, got a scalar.", span)
        _need(
            shape[-1] == s["sizes"][0],
            f"{ctor} expects inputs of size {s['sizes'][0]}, got {fmt_shape(shape)}.",
            span,
        )
        return (*shape[:-1], s["sizes"][-1])
    if ctor == "Activation":
        return shape
    if ctor == "Reshape":
        s["in_shape"] = list(shape)
        return tuple(s["out_shape"])
    if ctor == "Flatten":
        _need(len(shape) >= 1, "Flatten needs an array input.", span)
        s["ndims"] = len(shape)
        total: Dim = 1
        for d in shape:
            total = dim_op("*", total, d)
        return (total,)
    if ctor == "Embedding":
        return (*shape, s["sizes"][-1])
    _need(len(shape) == 3, f"{ctor} needs inputs shaped [channels, height, width], got {fmt_shape(shape)}.", span)
    c, h, w = shape
    _need(c == s["sizes"][0], f"{ctor} expects {s['sizes'][0]} input channels, got {c}.", span)
    k, st, p = s["kernel"], s["stride"], s["padding"]

    def out(d):
        if not isinstance(d, int):
            return dim_op("+", d, 0)
        return (d + 2 * p - k) // st + 1 if ctor == "Conv2d" else (d - 1) * st - 2 * p + k

    return (s["sizes"][1], out(h), out(w))
