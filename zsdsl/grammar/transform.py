"""Lark parse tree → AST (``zsdsl.grammar.ast``), attaching a ``Span`` to every node."""

from __future__ import annotations

from lark import Token, Transformer, v_args

from zsdsl.errors import Span, SyntaxError_
from zsdsl.grammar import ast as A

_BINOPS = {"add": "+", "sub": "-", "mul": "*", "div": "/", "matmul": "@", "mod": "%", "pow": "**"}


def _span(meta, file: str) -> Span:
    if getattr(meta, "empty", True):
        return Span(file=file)
    return Span(meta.line, meta.column, meta.end_line, meta.end_column, file)


def _tok_span(tok: Token, file: str) -> Span:
    return Span(tok.line, tok.column, tok.end_line, tok.end_column, file)


@v_args(meta=True)
class ToAst(Transformer):
    """Builds AST nodes bottom-up; block contents are gathered into a ``Program``."""

    def __init__(self, file: str):
        super().__init__()
        self.file = file

    def _s(self, meta) -> Span:
        return _span(meta, self.file)

    # ------------------------------------------------------------ expressions
    def number(self, meta, children):
        text = str(children[0])
        is_int = text.isdigit()
        return A.Num(int(text) if is_int else float(text), self._s(meta))

    def name(self, meta, children):
        tok = children[0]
        if str(tok) == "inf":
            return A.Num(float("inf"), self._s(meta))
        return A.Name(str(tok), self._s(meta))

    def __default__(self, data, children, meta):
        if data in _BINOPS:
            return A.BinOp(_BINOPS[data], children[0], children[-1], self._s(meta))
        return super().__default__(data, children, meta)

    def compare(self, meta, children):
        left, op, right = children
        return A.BinOp(str(op), left, right, self._s(meta))

    def neg(self, meta, children):
        operand = children[0]
        if isinstance(operand, A.Num):
            return A.Num(-operand.value, self._s(meta))
        return A.Neg(operand, self._s(meta))

    def list(self, meta, children):
        return A.ListExpr(tuple(c for c in children if c is not None), self._s(meta))

    def arrow(self, meta, children):
        return A.Arrow(tuple(children), self._s(meta))

    def kwarg(self, meta, children):
        return A.Keyword(str(children[0]), children[1], self._s(meta))

    def args(self, meta, children):
        return list(children)

    def call(self, meta, children):
        func, args = children[0], children[1] or []
        if not isinstance(func, A.Name):
            raise SyntaxError_("Only named functions, distributions and nets can be called.", func.span)
        positional, keywords, seen = [], [], set()
        for a in args:
            if isinstance(a, A.Keyword):
                if a.name in seen:
                    raise SyntaxError_(f"Keyword argument '{a.name}' is given twice.", a.span)
                seen.add(a.name)
                keywords.append(a)
            elif keywords:
                raise SyntaxError_("A positional argument cannot follow a keyword argument.", a.span)
            else:
                positional.append(a)
        return A.Call(func.id, tuple(positional), tuple(keywords), self._s(meta), func.span)

    def subscripts(self, meta, children):
        return tuple(children)

    def slice(self, meta, children):
        return A.Slice(children[0], children[1], self._s(meta))

    def index(self, meta, children):
        return A.Index(children[0], children[1], self._s(meta))

    # ------------------------------------------------------------ types
    def shape(self, meta, children):
        return tuple(children)

    def interval(self, meta, children):
        left, lo, _comma, hi, right = children
        return ("interval", lo, hi, str(left) == "(", str(right) == ")")

    def value_set(self, meta, children):
        return ("set", tuple(children))

    def type_spec(self, meta, children):
        base = str(children[0])
        shape, constraint = (), None
        for c in children[1:]:
            if isinstance(c, tuple) and c and isinstance(c[0], str):
                constraint = c
            else:
                shape = c
        kw = {}
        if constraint and constraint[0] == "interval":
            _, lo, hi, lo_open, hi_open = constraint
            kw = dict(lower=lo, upper=hi, lower_open=lo_open, upper_open=hi_open)
        elif constraint:
            kw = dict(values=constraint[1])
        return A.TypeSpec(base, shape, span=self._s(meta), **kw)

    def annotation(self, meta, children):
        return children[0]

    # ------------------------------------------------------------ declarations
    def typed_decl(self, meta, children):
        return A.DataDecl(str(children[0]), children[1], self._s(meta))

    def dim_decl(self, meta, children):
        value = children[1] if len(children) > 1 else None
        return A.DimDecl(str(children[0]), value, self._s(meta))

    def param_decl(self, meta, children):
        init = children[2] if len(children) > 2 else None
        return A.ParamDecl(str(children[0]), children[1], init, self._s(meta))

    def net_decl(self, meta, children):
        return A.NetDecl(str(children[0]), children[1], self._s(meta))

    # ------------------------------------------------------------ statements
    def target(self, meta, children):
        return A.Target(str(children[0]), tuple(str(c) for c in children[1:]), self._s(meta))

    def option(self, meta, children):
        value = children[1] if len(children) > 1 else None
        return A.Option(str(children[0]), value, self._s(meta))

    def options(self, meta, children):
        return tuple(children)

    def sample_stmt(self, meta, children):
        target, *rest = children
        ann = rest.pop(0) if isinstance(rest[0], A.TypeSpec) else None
        dist, options = rest
        return A.Sample(target, dist, ann, options, self._s(meta))

    def assign_stmt(self, meta, children):
        target, *rest = children
        ann = rest.pop(0) if isinstance(rest[0], A.TypeSpec) else None
        value, options = rest
        return A.Assign(target, value, ann, self._s(meta), options)

    def factor_stmt(self, meta, children):
        return A.Factor(children[0], self._s(meta))

    def score_stmt(self, meta, children):
        return A.Score(children[0], self._s(meta))

    def critic_plate(self, meta, children):
        return self.plate_stmt(meta, children)

    def plate_stmt(self, meta, children):
        var, size, options, *body = children
        return A.Plate(str(var), size, options, tuple(body), self._s(meta))

    def scan_carry(self, meta, children):
        name, init = children
        return A.Carry(str(name), init, self._s(meta))

    def scan_stmt(self, meta, children):
        var, steps, *rest = children
        carries = tuple(c for c in rest if isinstance(c, A.Carry))
        body = tuple(c for c in rest if not isinstance(c, A.Carry))
        return A.Scan(str(var), steps, carries, body, self._s(meta))

    def fparam(self, meta, children):
        return A.Param(str(children[0]), children[1], self._s(meta))

    def return_stmt(self, meta, children):
        return A.Return(children[0], self._s(meta))

    def function_def(self, meta, children):
        name, *rest = children
        params = tuple(c for c in rest if isinstance(c, A.Param))
        returns = next(c for c in rest if isinstance(c, A.TypeSpec))
        body = tuple(c for c in rest if isinstance(c, (A.Assign, A.Return)))
        result = body[-1] if body and isinstance(body[-1], A.Return) else None
        stmts = body[:-1] if result is not None else body
        extra = next((b for b in stmts if isinstance(b, A.Return)), None)
        if extra is not None:
            raise SyntaxError_("A function ends with its one 'return'; lines after it are never run.", extra.span)
        return ("functions", A.FunctionDef(str(name), params, returns, stmts, result, self._s(meta)))

    # ------------------------------------------------------------ blocks
    def data_block(self, meta, children):
        return ("data", children)

    def dims_block(self, meta, children):
        return ("dims", children)

    def params_block(self, meta, children):
        return ("params", children)

    def nets_block(self, meta, children):
        return ("nets", children)

    def generated_block(self, meta, children):
        return ("generated", children)

    def guide_block(self, meta, children):
        name, *items = children
        parts = _gather(items, allowed=("nets", "params"))
        return (
            "guide",
            A.Guide(str(name), tuple(parts["nets"]), tuple(parts["params"]), tuple(parts["body"]), self._s(meta)),
        )

    def critic_block(self, meta, children):
        name, *items = children
        parts = _gather(items, allowed=("nets", "params"))
        critic = A.Guide(str(name), tuple(parts["nets"]), tuple(parts["params"]), tuple(parts["body"]),
                         self._s(meta), kind="critic")  # fmt: skip
        return ("guide", critic)

    def header(self, meta, children):
        return ("header", str(children[0]))

    def start(self, meta, children):
        parts = _gather(
            children, allowed=("header", "data", "dims", "params", "nets", "generated", "guide", "functions")
        )
        name = parts["header"][0] if parts["header"] else ""
        return A.Program(
            name=name,
            data=tuple(parts["data"]),
            dims=tuple(parts["dims"]),
            params=tuple(parts["params"]),
            nets=tuple(parts["nets"]),
            body=tuple(parts["body"]),
            guides=tuple(parts["guide"]),
            generated=tuple(parts["generated"]),
            functions=tuple(parts["functions"]),
            file=self.file,
            span=self._s(meta),
        )


def _gather(items, allowed):
    parts = {k: [] for k in (*allowed, "body")}
    for item in items:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) and item[0] in parts:
            kind, content = item
            if isinstance(content, list):
                parts[kind].extend(content)
            else:
                parts[kind].append(content)
        else:
            parts["body"].append(item)
    return parts
