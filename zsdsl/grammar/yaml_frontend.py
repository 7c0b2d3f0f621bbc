"""``parse_yaml_spec(text, file) -> ast.Program``: the YAML form of a model (``*.zs.yaml``).

Format (safe-loaded; every string is parsed with the ``.zs`` grammar)::

    model: eight_schools            # optional name
    data: {J: "int in [0, inf)", y: "real[J]"}
    dims: {z_dim: 40, K: null}      # null: a size given with the data
    params: {Z: "real[M, D]", s: {type: "real in (0, inf)", init: "1.0"}}
    nets: {decoder: "MLP(z_dim -> 500 -> 784, act=relu)"}
    body:                           # statements as strings; a plate is a mapping
      - mu ~ Normal(0, 5)
      - plate: j in J, subsample=4
        body: [theta[j] ~ Normal(mu, 1)]
    guides: {q: {nets: {...}, params: {...}, body: [...]}}
    generated: [y_rep ~ Normal(mu, 1)]

Spans point into the YAML file: each fragment's positions are shifted to where its
scalar starts. The result equals what ``parse_spec`` gives for the same model in ``.zs``.
"""

from __future__ import annotations

import dataclasses

import yaml

from zsdsl.compiler.scope import did_you_mean
from zsdsl.errors import Span, SyntaxError_, ZsdslError
from zsdsl.grammar import ast as A
from zsdsl.grammar.parser import parse_spec

TOP_KEYS = ("model", "data", "dims", "params", "nets", "body", "guides", "generated")
GUIDE_KEYS = ("nets", "params", "body")


def parse_yaml_spec(text: str, file: str = "<string>") -> A.Program:
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = getattr(exc, "problem", None) or str(exc)
        raise SyntaxError_(f"Invalid YAML: {problem}.", Span(line, col, line, col + 1, file)) from None
    return _Builder(file).program(root)


def _shift(node, dline: int, dcol_first: int, file: str):
    """Move every span of a fragment parsed alone to its place in the YAML file."""
    if isinstance(node, tuple):
        return tuple(_shift(x, dline, dcol_first, file) for x in node)
    if not dataclasses.is_dataclass(node):
        return node
    changes = {}
    for f in dataclasses.fields(node):
        value = getattr(node, f.name)
        if isinstance(value, Span):
            changes[f.name] = _shift_span(value, dline, dcol_first, file)
        elif f.name != "file":
            changes[f.name] = _shift(value, dline, dcol_first, file)
    return dataclasses.replace(node, **changes)


def _shift_span(s: Span, dline: int, dcol: int, file: str) -> Span:
    if not s.line:
        return Span(file=file)
    col = s.col + dcol if s.line == 1 else s.col
    end_col = s.end_col + dcol if s.end_line == 1 else s.end_col
    return Span(s.line + dline, col, s.end_line + dline, end_col, file)


class _Builder:
    def __init__(self, file: str):
        self.file = file

    def err(self, message: str, node) -> ZsdslError:
        m = node.start_mark
        return SyntaxError_(message, Span(m.line + 1, m.column + 1, m.line + 1, m.column + 2, self.file))

    # ------------------------------------------------------------ fragments
    def scalar(self, node, what: str) -> str:
        if not isinstance(node, yaml.ScalarNode):
            raise self.err(f"Expected {what} as a string here.", node)
        if node.style in ("|", ">") or "\n" in node.value:
            raise self.err(f"Write {what} on one line (block scalars are not supported).", node)
        return node.value

    def fragment(self, node, what: str, wrap: tuple[str, str], pick):
        text = self.scalar(node, what)
        prefix, suffix = wrap
        m = node.start_mark
        offset = 1 if node.style in ("'", '"') else 0
        try:
            prog = parse_spec(prefix + text + suffix, self.file)
        except ZsdslError as exc:
            exc.span = self._fragment_span(exc.span, prefix, m, offset)
            raise
        return self._relocate(pick(prog), prefix, m, offset)

    def _fragment_span(self, span: Span, prefix: str, mark, offset: int) -> Span:
        lines_before = prefix.count("\n")
        col0 = len(prefix.rsplit("\n", 1)[-1])
        line = max(span.line - lines_before, 1)
        col = span.col - col0 + mark.column + offset if span.line - lines_before == 1 else span.col
        return Span(mark.line + line, max(col, 1), mark.line + line, max(col, 1) + 1, self.file)

    def _relocate(self, node, prefix: str, mark, offset: int):
        lines_before = prefix.count("\n")
        col0 = len(prefix.rsplit("\n", 1)[-1])
        shifted = _shift(node, -lines_before, 0, self.file)
        return _shift(shifted, mark.line, mark.column + offset - col0, self.file)

    def expr(self, node, what="an expression"):
        if isinstance(node, yaml.ScalarNode) and node.tag.endswith((":int", ":float")):
            node = yaml.ScalarNode("tag:yaml.org,2002:str", node.value, node.start_mark, node.end_mark)
        return self.fragment(node, what, ("_x = ", "\n"), lambda p: p.body[0].value)

    def type_spec(self, node):
        return self.fragment(node, "a type", ("data:\n  _x: ", "\n"), lambda p: p.data[0].type)

    def statement(self, node):
        if isinstance(node, yaml.MappingNode):
            keys = {k.value: v for k, v in node.value}
            if "plate" in keys:
                return self.plate(node, keys)
            if set(keys) == {"factor"}:
                expr = self.expr(keys["factor"], "a factor expression")
                m = node.start_mark
                return A.Factor(expr, Span(m.line + 1, m.column + 1, m.line + 1, m.column + 2, self.file))
            raise self.err("A statement mapping is a plate ({plate: 'n in N', body: [...]}) or {factor: expr}.", node)
        return self.fragment(node, "a statement", ("", "\n"), lambda p: _only_stmt(p))

    def plate(self, node, keys):
        unknown = sorted(set(keys) - {"plate", "body"})
        if unknown:
            raise self.err(f"Unknown key '{unknown[0]}' in a plate; it takes 'plate' and 'body'.", node)
        if "body" not in keys:
            raise self.err("A plate needs a 'body' list of statements.", node)
        header = self.fragment(keys["plate"], "a plate header", ("plate ", ":\n  _x = 0\n"), lambda p: p.body[0])
        body = tuple(self.statement(s) for s in self.seq(keys["body"], "a plate body"))
        return dataclasses.replace(header, body=body)

    def seq(self, node, what):
        if not isinstance(node, yaml.SequenceNode):
            raise self.err(f"Expected {what} as a list.", node)
        return node.value

    def mapping(self, node, what) -> list:
        if isinstance(node, yaml.ScalarNode) and node.value in ("", "~", "null"):
            return []
        if not isinstance(node, yaml.MappingNode):
            raise self.err(f"Expected {what} as a mapping of names.", node)
        return node.value

    def span_of(self, key) -> Span:
        m = key.start_mark
        return Span(m.line + 1, m.column + 1, m.line + 1, m.column + 1 + len(key.value), self.file)

    # ------------------------------------------------------------ blocks
    def data(self, node):
        return tuple(A.DataDecl(k.value, self.type_spec(v), self.span_of(k)) for k, v in self.mapping(node, "data"))

    def dims(self, node):
        out = []
        for k, v in self.mapping(node, "dims"):
            null = isinstance(v, yaml.ScalarNode) and v.tag.endswith(":null")
            out.append(A.DimDecl(k.value, None if null else self.expr(v), self.span_of(k)))
        return tuple(out)

    def params(self, node):
        out = []
        for k, v in self.mapping(node, "params"):
            init = None
            if isinstance(v, yaml.MappingNode):
                keys = {kk.value: vv for kk, vv in v.value}
                if "type" not in keys or set(keys) - {"type", "init"}:
                    raise self.err("A parameter mapping takes 'type' and optionally 'init'.", v)
                init = self.expr(keys["init"]) if "init" in keys else None
                v = keys["type"]
            out.append(A.ParamDecl(k.value, self.type_spec(v), init, self.span_of(k)))
        return tuple(out)

    def nets(self, node):
        return tuple(A.NetDecl(k.value, self.expr(v, "a net"), self.span_of(k)) for k, v in self.mapping(node, "nets"))

    def body(self, node):
        return tuple(self.statement(s) for s in self.seq(node, "statements"))

    def guide(self, key, node):
        parts = {kk.value: vv for kk, vv in self.mapping(node, "a guide")}
        for kk, _ in self.mapping(node, "a guide"):
            if kk.value not in GUIDE_KEYS:
                raise self.err(f"Unknown key '{kk.value}' in guide '{key.value}'; it takes nets, params, body.", kk)
        return A.Guide(
            key.value,
            self.nets(parts["nets"]) if "nets" in parts else (),
            self.params(parts["params"]) if "params" in parts else (),
            self.body(parts["body"]) if "body" in parts else (),
            self.span_of(key),
        )

    def program(self, root) -> A.Program:
        if root is None:
            raise SyntaxError_("The YAML model is empty.", Span(1, 1, 1, 2, self.file))
        items = self.mapping(root, "the model")
        parts = {}
        for k, v in items:
            if k.value not in TOP_KEYS:
                raise self.err(f"Unknown top-level key '{k.value}'.{did_you_mean(k.value, TOP_KEYS)}", k)
            parts[k.value] = v
        name = self.scalar(parts["model"], "the model name") if "model" in parts else ""
        guides = (
            tuple(self.guide(k, v) for k, v in self.mapping(parts["guides"], "guides")) if "guides" in parts else ()
        )
        m = root.start_mark
        return A.Program(
            name=name,
            data=self.data(parts["data"]) if "data" in parts else (),
            dims=self.dims(parts["dims"]) if "dims" in parts else (),
            params=self.params(parts["params"]) if "params" in parts else (),
            nets=self.nets(parts["nets"]) if "nets" in parts else (),
            body=self.body(parts["body"]) if "body" in parts else (),
            guides=guides,
            generated=self.body(parts["generated"]) if "generated" in parts else (),
            file=self.file,
            span=Span(m.line + 1, m.column + 1, m.line + 1, m.column + 2, self.file),
        )


def _only_stmt(p: A.Program):
    if len(p.body) != 1 or p.data or p.dims or p.params or p.nets or p.guides or p.generated:
        raise SyntaxError_("Each list item holds exactly one statement.")
    return p.body[0]
