"""``parse_yaml_spec(text, file) -> ast.Program``: the YAML form of a model (``*.zs.yaml``).

Format (read with PyYAML's safe composer; nothing is constructed or evaluated)::

    model: eight_schools               # optional; a name, as in `model NAME`
    data:                              # name -> type, as after ':' in a .zs data block
      J: int in [0, inf)
      y: real[J]
    dims:                              # name -> size expression, or null: a size given with the data
      z_dim: 40
      K: null
    params:                            # name -> type [= init], or {type: ..., init: ...}
      Z: real[M, D]
      s: {type: "real in (0, inf)", init: 1.0}
    nets:                              # name -> net expression
      decoder: MLP(z_dim -> 500 -> 784, act=relu)
    body:                              # the model's statements, in order
      - mu ~ Normal(0, 5)
      - "theta: real in (0, 1) ~ Beta(5, 5)"   # or unquoted: the mapping {theta: "real ... ~ ..."}
      - factor: log_mix(theta, a, b)           # or the string "factor log_mix(theta, a, b)"
      - plate: n in N, subsample=128           # a plate: its header and its own body list
        body:
          - z[n] ~ Normal(0, 1), event=[z_dim]
      - scan: t in range(1, T), s = 0          # a scan: the same form
        body:
          - s = s + z[t]
    guides:                            # guide name -> {nets:, params:, body:} (each optional)
      q:
        nets: {encoder: "MLP(784 -> 10)"}
        body: [...]
    generated:                         # statements computed from posterior draws
      - y_rep ~ Normal(mu, 1)
    functions:                         # name -> {params:, returns:, body:} (a def in the .zs form)
      center: {params: "x: real[N]", returns: "real[N]", body: ["return x - mean(x)"]}

A statement item is a string (any ``.zs`` statement except a plate or scan), a plate or scan mapping ``{plate:
HEADER, body: [...]}`` (``{scan: HEADER, body: [...]}``), ``{factor: EXPR}``, or a one-entry mapping
``{TARGET: "TYPE ~ ..."}`` (what YAML makes of an unquoted ``theta: real ~ ...``). Keys and values are text in
the ``.zs`` grammar whatever YAML would make of them (``40``, ``1.0``, ``on`` stay text); ``null`` matters
only for a dim. Each fragment is parsed by ``parse_spec`` inside a tiny ``.zs`` text assembled from the YAML
key and value, so the result equals (``==``, ``dump_ast``) what ``parse_spec`` gives for the same model
written in ``.zs``, and every span is mapped back, character by character, to the YAML source (plain, quoted
and flow scalars, also folded over several lines). Block scalars (``|``, ``>``), values with line breaks,
aliases (``*name``) and duplicate keys are rejected. Every problem raises a
``SyntaxError_`` located in the YAML file. An empty document is an error.
"""

from __future__ import annotations

import dataclasses
import difflib

import yaml
from yaml.scanner import Scanner

from zsdsl.errors import Span, SyntaxError_, ZsdslError, flatten_errors
from zsdsl.grammar import ast as A
from zsdsl.grammar.parser import parse_spec

TOP_KEYS = ("model", "data", "dims", "params", "nets", "body", "guides", "generated", "functions")
FUNCTION_KEYS = ("params", "returns", "body")
GUIDE_KEYS = ("nets", "params", "body")
BLOCK_FORMS = {"plate": "n in N", "scan": "t in range(1, T), s = 0"}
PARAM_KEYS = ("type", "init")
PLATE_FORM = "Write a plate as a mapping: '- plate: n in N' with its statements in a 'body:' list under it."

_BREAKS = "\n\x85\u2028\u2029"  # with a lone '\r': what PyYAML counts as a line break


def parse_yaml_spec(text: str, file: str = "<string>") -> A.Program:
    """Parse a ``*.zs.yaml`` model into the same AST as the ``.zs`` form; spans point into ``text``."""
    try:
        root = yaml.compose(text, Loader=_Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        problem = exc.problem or exc.context or "malformed document"
        raise SyntaxError_(f"Invalid YAML: {problem}.", Span(line, col, line, col + 1, file)) from None
    except yaml.YAMLError as exc:  # ReaderError: a character YAML does not allow
        position = getattr(exc, "position", 0) or 0
        line = text.count("\n", 0, position) + 1
        col = position - (text.rfind("\n", 0, position) + 1) + 1
        reason = getattr(exc, "reason", None) or "unreadable input"
        raise SyntaxError_(f"Invalid YAML: {reason}.", Span(line, col, line, col + 1, file)) from None
    except RecursionError:
        raise SyntaxError_("Invalid YAML: the document is nested too deeply.", Span(1, 1, 1, 2, file)) from None
    if root is None:
        raise SyntaxError_("The YAML model is empty.", Span(1, 1, 1, 2, file))
    return _Builder(text, file).program(root)


class _Loader(yaml.SafeLoader):
    """The safe composer, refusing aliases: a node must have one place in the file for its spans."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise yaml.composer.ComposerError(
                None, None, f"aliases (*{event.anchor}) are not supported in a model", event.start_mark
            )
        return super().compose_node(parent, index)


# ---------------------------------------------------------------- YAML positions of a scalar's characters


def _scalar_chars(text: str, node: yaml.ScalarNode) -> tuple[str, list[tuple[int, int]]] | None:
    """Re-read a flow scalar from the source: its value and the 1-based (line, col) of each character.

    Implements YAML's escapes and line folding; returns None when the re-read value differs from
    PyYAML's (the caller then rejects the scalar rather than point at the wrong place).
    """
    start, end = node.start_mark, node.end_mark
    raw = text[start.index : end.index]
    where = []  # (line, col) of each raw character, counted as PyYAML counts
    line, col = start.line + 1, start.column + 1
    for i, ch in enumerate(raw):
        where.append((line, col))
        if ch in _BREAKS or (ch == "\r" and raw[i + 1 : i + 2] != "\n"):
            line, col = line + 1, 1
        elif ch != "\ufeff":
            col += 1
    quoted = node.style in ("'", '"')
    i, stop = (1, len(raw) - 1) if quoted else (0, len(raw))
    out: list[str] = []
    pos: list[tuple[int, int]] = []
    while i < stop:
        ch = raw[i]
        if node.style == "'" and raw.startswith("''", i):
            out.append("'")
            pos.append(where[i])
            i += 2
        elif node.style == '"' and ch == "\\" and i + 1 < stop:
            nxt = raw[i + 1]
            if nxt in Scanner.ESCAPE_REPLACEMENTS:
                out.append(Scanner.ESCAPE_REPLACEMENTS[nxt])
                pos.append(where[i])
                i += 2
            elif nxt in Scanner.ESCAPE_CODES:
                n = Scanner.ESCAPE_CODES[nxt]
                try:
                    out.append(chr(int(raw[i + 2 : i + 2 + n], 16)))
                except ValueError:
                    return None
                pos.append(where[i])
                i += 2 + n
            elif nxt in "\r" + _BREAKS:  # an escaped line break: joins the lines with nothing
                i += 1
                while i < stop and raw[i] in " \t\r" + _BREAKS:
                    i += 1
            else:
                return None
        elif ch in " \t\r" + _BREAKS:
            j = i
            while j < stop and raw[j] in " \t\r" + _BREAKS:
                j += 1
            run = raw[i:j]
            breaks = sum(1 for k, c in enumerate(run) if c in _BREAKS or (c == "\r" and run[k + 1 : k + 2] != "\n"))
            if not breaks:
                out.extend(run)
                pos.extend(where[i:j])
            else:  # folding: one break becomes a space, n breaks become n - 1 newlines
                folded = " " if breaks == 1 else "\n" * (breaks - 1)
                out.extend(folded)
                pos.extend([where[i]] * len(folded))
            i = j
        else:
            out.append(ch)
            pos.append(where[i])
            i += 1
    value = "".join(out)
    return (value, pos) if value == node.value else None


# ---------------------------------------------------------------- a .zs fragment assembled from YAML pieces


class _Fragment:
    """``.zs`` text made of wrapper text and YAML scalars, with the YAML position of each character."""

    def __init__(self, file: str):
        self.file = file
        self.chars: list[str] = []
        self.pos: list[tuple[int, int] | None] = []  # None: wrapper text, not from the YAML file
        self.flow_plain = False  # a plain scalar inside a flow collection ends at ','
        self._cache = None  # (length, line starts, resolved positions)

    def lit(self, text: str) -> _Fragment:
        self.chars.extend(text)
        self.pos.extend([None] * len(text))
        return self

    def add(self, value: str, positions) -> _Fragment:
        self.chars.extend(value)
        self.pos.extend(positions)
        return self

    # ------------------------------------------------------------ position mapping
    def _resolved(self) -> list[tuple[int, int]]:
        """Every character's YAML position; wrapper characters continue from the last YAML character."""
        first = next((p for p in self.pos if p is not None), (1, 1))
        out, last, run = [], None, 0
        for p in self.pos:
            if p is not None:
                last, run = p, 0
                out.append(p)
            elif last is None:
                out.append(first)
            else:
                run += 1
                out.append((last[0], last[1] + run))
        return out

    def _index(self, starts: list[int], line: int, col: int) -> int:
        line = min(max(line, 1), len(starts))
        return min(max(starts[line - 1] + col - 1, 0), len(self.chars))

    def span(self, s: Span) -> Span:
        """Map a span of the fragment text (1-based line/col, end exclusive) to the YAML file."""
        if not s.line:
            return Span(file=self.file)
        if self._cache is None or self._cache[0] != len(self.chars):
            starts = [0] + [i + 1 for i, c in enumerate(self.chars) if c == "\n"]
            self._cache = (len(self.chars), starts, self._resolved())
        _, starts, where = self._cache
        i = min(self._index(starts, s.line, s.col), len(where) - 1)
        j = self._index(starts, s.end_line, s.end_col) if s.end_line else i + 1
        j = min(max(j, i + 1), len(where))
        while j - 1 > i and self.pos[j - 1] is None and self.chars[j - 1] in " \t\n":
            j -= 1  # a statement's span takes its newline: stop at the last character that is in the file
        (line, col), (end_line, end_col) = where[i], where[j - 1]
        return Span(line, col, end_line, end_col + 1, self.file)

    def relocate(self, node):
        """The node with every span (``span``, ``func_span``, ...) moved into the YAML file."""
        if isinstance(node, tuple):
            return tuple(self.relocate(x) for x in node)
        if not dataclasses.is_dataclass(node) or isinstance(node, type):
            return node
        changes = {}
        for f in dataclasses.fields(node):
            value = getattr(node, f.name)
            if isinstance(value, Span):
                changes[f.name] = self.span(value)
            elif isinstance(value, tuple) or dataclasses.is_dataclass(value):
                changes[f.name] = self.relocate(value)
        return dataclasses.replace(node, **changes)

    def parse(self, hint: str | None = None) -> A.Program:
        try:
            return parse_spec("".join(self.chars), self.file)
        except ZsdslError as exc:
            errors = flatten_errors(exc)
            for e in errors if exc in errors else [exc, *errors]:
                e.span = self.span(e.span)
                if e.hint is None and self.flow_plain:
                    e.hint = "Inside [...] or {...}, a value containing ',' must be quoted."
                elif e.hint is None and hint:
                    e.hint = hint
            raise


# ---------------------------------------------------------------- the YAML document → Program


def _node_span(node, file: str) -> Span:
    start, end = node.start_mark, node.end_mark
    if end.line == start.line and end.column > start.column:
        return Span(start.line + 1, start.column + 1, end.line + 1, end.column + 1, file)
    return Span(start.line + 1, start.column + 1, start.line + 1, start.column + 2, file)


def _is_null(node) -> bool:
    return isinstance(node, yaml.ScalarNode) and node.tag == "tag:yaml.org,2002:null" and node.style is None


def _did_you_mean(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.6)
    return f" Did you mean '{close[0]}'?" if close else ""


class _Builder:
    def __init__(self, text: str, file: str):
        self.text = text
        self.file = file
        self.flow_children: set[int] = set()  # ids of scalars directly inside a flow collection

    def err(self, message: str, node, hint: str | None = None) -> ZsdslError:
        return SyntaxError_(message, _node_span(node, self.file), hint)

    # ------------------------------------------------------------ structure
    def entries(self, node, what: str, allowed=None) -> list[tuple[yaml.ScalarNode, yaml.Node]]:
        """The (key, value) pairs of a mapping; a null is an empty mapping. Keys are unique scalars."""
        if _is_null(node):
            return []
        if not isinstance(node, yaml.MappingNode):
            raise self.err(f"Expected {what} as a mapping (name: value, one per line).", node)
        seen = {}
        for key, value in node.value:
            if not isinstance(key, yaml.ScalarNode):
                raise self.err(f"Expected a name as a key in {what}.", key)
            if key.value in seen:
                raise self.err(f"Duplicate key '{key.value}' in {what}.", key)
            if allowed is not None and key.value not in allowed:
                raise self.err(
                    f"Unknown key '{key.value}' in {what}; it takes {', '.join(allowed)}."
                    f"{_did_you_mean(key.value, allowed)}",
                    key,
                )
            seen[key.value] = value
            if node.flow_style:
                self.flow_children.update((id(key), id(value)))
        return list(node.value)

    def items(self, node, what: str) -> list:
        if _is_null(node):
            return []
        if not isinstance(node, yaml.SequenceNode):
            raise self.err(f"Expected {what} as a list ('- ' items).", node)
        if node.flow_style:
            self.flow_children.update(id(x) for x in node.value)
        return node.value

    # ------------------------------------------------------------ fragments
    def piece(self, frag: _Fragment, node, what: str) -> _Fragment:
        """Append a scalar's text to a fragment, with the YAML position of each of its characters."""
        if not isinstance(node, yaml.ScalarNode):
            kind = "a list" if isinstance(node, yaml.SequenceNode) else "a mapping"
            raise self.err(
                f"Expected {what} as a string here, not {kind}.",
                node,
                "Quote the text if it starts with '[' or '{'." if getattr(node, "flow_style", False) else None,
            )
        if node.style in ("|", ">"):
            raise self.err(
                f"Write {what} as a plain or quoted scalar; block scalars ('|', '>') are not supported.", node
            )
        read = _scalar_chars(self.text, node)
        if read is None:
            raise self.err(f"Cannot map {what} back to the file; write it without unusual escapes.", node)
        value, positions = read
        if "\n" in value:
            raise self.err(f"Write {what} on one line (it contains a line break).", node)
        if node.style is None and id(node) in self.flow_children:
            frag.flow_plain = True
        return frag.add(value, positions)

    def nonempty(self, node, what: str):
        if isinstance(node, yaml.ScalarNode) and node.value.strip() == "":
            raise self.err(f"Missing {what}.", node)
        return node

    def fragment(self) -> _Fragment:
        return _Fragment(self.file)

    # ------------------------------------------------------------ declarations
    def decl(self, block: str, key, frag: _Fragment, what: str):
        prog = frag.parse()
        decls = getattr(prog, block)
        if len(decls) != 1 or _others(prog, block):
            raise self.err(f"Expected one {what} declaration here.", key)
        return frag.relocate(decls[0])

    def data(self, node) -> tuple:
        out = []
        for key, value in self.entries(node, "data"):
            frag = self.piece(self.fragment().lit("data:\n  "), key, "a data name").lit(": ")
            self.piece(frag, self.nonempty(value, f"the type of '{key.value}'"), "a type").lit("\n")
            out.append(self.decl("data", key, frag, "data"))
        return tuple(out)

    def dims(self, node) -> tuple:
        out = []
        for key, value in self.entries(node, "dims"):
            frag = self.piece(self.fragment().lit("dims:\n  "), key, "a dim name")
            if not _is_null(value):
                self.piece(frag.lit(" = "), value, "a size")
            out.append(self.decl("dims", key, frag.lit("\n"), "dim"))
        return tuple(out)

    def params(self, node) -> tuple:
        out = []
        for key, value in self.entries(node, "params"):
            frag = self.piece(self.fragment().lit("params:\n  "), key, "a parameter name").lit(": ")
            if isinstance(value, yaml.MappingNode):
                where = f"parameter '{key.value}'"
                parts = {k.value: v for k, v in self.entries(value, where, allowed=PARAM_KEYS)}
                if "type" not in parts:
                    raise self.err(f"Parameter '{key.value}' needs a 'type'.", value)
                self.piece(frag, self.nonempty(parts["type"], f"the type of '{key.value}'"), "a type")
                if "init" in parts:
                    self.piece(frag.lit(" = "), self.nonempty(parts["init"], "an initial value"), "an initial value")
            else:
                self.piece(frag, self.nonempty(value, f"the type of '{key.value}'"), "a type")
            out.append(self.decl("params", key, frag.lit("\n"), "parameter"))
        return tuple(out)

    def nets(self, node) -> tuple:
        out = []
        for key, value in self.entries(node, "nets"):
            frag = self.piece(self.fragment().lit("nets:\n  "), key, "a net name").lit(" = ")
            self.piece(frag, self.nonempty(value, f"the definition of net '{key.value}'"), "a net").lit("\n")
            out.append(self.decl("nets", key, frag, "net"))
        return tuple(out)

    # ------------------------------------------------------------ statements
    def body(self, node, what: str = "statements") -> tuple:
        return tuple(self.statement(s) for s in self.items(node, what))

    def statement(self, node):
        if isinstance(node, yaml.ScalarNode):
            frag = self.piece(self.fragment(), self.nonempty(node, "a statement"), "a statement").lit("\n")
            hint = PLATE_FORM if node.value.lstrip().startswith("plate ") else None
            return self.one_statement(frag, node, hint)
        if not isinstance(node, yaml.MappingNode):
            raise self.err(
                "Expected a statement as a string here (or a plate mapping).",
                node,
                "Quote a statement that starts with '[' or '{'." if node.flow_style else None,
            )
        pairs = self.entries(node, "a statement")
        keys = [k.value for k, _ in pairs]
        if "scan" in keys:
            return self.block(node, "scan")
        if "plate" in keys or "body" in keys:
            return self.block(node, "plate")
        if len(pairs) == 1:
            (key, value), hint = pairs[0], None
            if key.value.startswith("plate "):  # `- plate n in N:` reads as the key of a mapping
                raise self.err(PLATE_FORM, key)
            frag = self.fragment()
            if key.value == "factor":
                self.piece(frag, key, "'factor'").lit(" ")
            else:  # `- theta: real in (0, 1) ~ Beta(5, 5)`, which YAML reads as a mapping
                self.piece(frag, key, "a statement").lit(": ")
                hint = "An annotated statement is 'name: type ~ Dist(...)' or 'name: type = expression'."
            self.piece(frag, self.nonempty(value, "the rest of the statement"), "a statement").lit("\n")
            return self.one_statement(frag, node, hint)
        raise self.err(
            "A statement mapping is a plate {plate: 'n in N', body: [...]}, {factor: expr} "
            "or one annotated statement {name: 'type ~ Dist(...)'}.",
            node,
        )

    def one_statement(self, frag: _Fragment, node, hint: str | None):
        prog = frag.parse(hint)
        if len(prog.body) != 1 or _others(prog, "body"):
            raise self.err("Expected one statement here (a '~', '=' or 'factor' statement, or a plate).", node)
        return frag.relocate(prog.body[0])

    def block(self, node, kind: str):
        """A plate ``{plate: 'n in N', body: [...]}`` or a scan ``{scan: 't in range(1, T), s = 0', body: [...]}``."""
        form = BLOCK_FORMS[kind]
        pairs = self.entries(node, f"a {kind}", allowed=(kind, "body"))
        parts = {k.value: v for k, v in pairs}
        key = next((k for k, _ in pairs if k.value == kind), None)
        if key is None:
            raise self.err(f"A {kind} needs a '{kind}' header, e.g. '{kind}: {form}'.", node)
        if "body" not in parts:
            raise self.err(f"A {kind} needs a 'body' list of statements.", node)
        frag = self.piece(self.fragment(), key, f"'{kind}'").lit(" ")
        self.piece(frag, self.nonempty(parts[kind], f"the {kind} header ('{form}')"), f"a {kind} header")
        frag.lit(":\n  _x = 0\n")
        prog = frag.parse(
            f"A plate header is '{form}' or 'n in N, subsample=B'."
            if kind == "plate"
            else f"A scan header is '{form}': the index, its range and the carries with their first values."
        )
        header = prog.body[0] if len(prog.body) == 1 and not _others(prog, "body") else None
        if not isinstance(header, A.Plate if kind == "plate" else A.Scan) or len(header.body) != 1:
            raise self.err(f"Expected a {kind} header '{form}' here.", parts[kind])
        header = frag.relocate(header)
        body = self.body(parts["body"], f"a {kind} body")
        if not body:
            raise self.err(f"A {kind}'s body needs at least one statement.", parts["body"])
        last = body[-1].span
        span = (
            dataclasses.replace(header.span, end_line=last.end_line, end_col=last.end_col) if last.line else header.span
        )
        return dataclasses.replace(header, body=body, span=span)

    # ------------------------------------------------------------ guides and the program
    def guide(self, key, node) -> A.Guide:
        frag = self.piece(self.fragment().lit("guide "), key, "a guide name").lit(":\n  _x = 0\n")
        prog = frag.parse()
        if len(prog.guides) != 1 or _others(prog, "guides"):
            raise self.err("Expected a guide name here.", key)
        parts = {k.value: v for k, v in self.entries(node, f"guide '{key.value}'", allowed=GUIDE_KEYS)}
        return A.Guide(
            prog.guides[0].name,
            self.nets(parts["nets"]) if "nets" in parts else (),
            self.params(parts["params"]) if "params" in parts else (),
            self.body(parts["body"]) if "body" in parts else (),
            _node_span(key, self.file),
        )

    def function(self, key, node) -> A.FunctionDef:
        """``NAME: {params: "x: real[K], s: real", returns: "real[K]", body: [lines..., "return ..."]}``."""
        parts = {k.value: v for k, v in self.entries(node, f"function '{key.value}'", allowed=FUNCTION_KEYS)}
        for need in ("returns", "body"):
            if need not in parts:
                raise self.err(f"The function '{key.value}' needs '{need}' (keys: {', '.join(FUNCTION_KEYS)}).", node)
        frag = self.piece(self.fragment().lit("def "), key, "a function name").lit("(")
        if "params" in parts:
            self.piece(frag, parts["params"], "the parameters ('x: real[K], s: real')")
        self.piece(frag.lit(") -> "), self.nonempty(parts["returns"], "the result type"), "the result type")
        frag.lit(":\n")
        lines = self.items(parts["body"], f"the body of '{key.value}'")
        if not lines:
            raise self.err(f"The function '{key.value}' needs at least its 'return' line.", parts["body"])
        for line in lines:
            self.piece(frag.lit("    "), self.nonempty(line, "a line of the function"), "a line of the function")
            frag.lit("\n")
        prog = frag.parse("A function is {params: 'x: real[K]', returns: 'real[K]', body: ['return x']}.")
        if len(prog.functions) != 1 or _others(prog, "functions"):
            raise self.err("Expected one function here.", node)
        return frag.relocate(prog.functions[0])

    def model_name(self, node) -> str:
        frag = self.piece(self.fragment().lit("model "), self.nonempty(node, "the model name"), "the model name")
        prog = frag.lit("\n").parse()
        if _others(prog, None):
            raise self.err("Expected a model name here.", node)
        return prog.name

    def program(self, root) -> A.Program:
        if not isinstance(root, yaml.MappingNode):
            raise self.err(
                "A YAML model is a mapping with the keys " + ", ".join(TOP_KEYS) + ".",
                root,
            )
        build = {
            "model": self.model_name,
            "data": self.data,
            "dims": self.dims,
            "params": self.params,
            "nets": self.nets,
            "body": self.body,
            "guides": lambda node: tuple(self.guide(k, v) for k, v in self.entries(node, "guides")),
            "generated": self.body,
            "functions": lambda node: tuple(self.function(k, v) for k, v in self.entries(node, "functions")),
        }
        parts = {}
        for key, value in self.entries(root, "the model"):  # in file order, so the first error is reported
            if key.value in ("critic", "critics"):
                raise self.err("Critic blocks (adversarial training) are written in the .zs form only; the YAML form "
                               "has no critics yet.", key)  # fmt: skip
            if key.value not in TOP_KEYS:
                raise self.err(
                    f"Unknown top-level key '{key.value}'.{_did_you_mean(key.value, TOP_KEYS)}",
                    key,
                    "The keys are " + ", ".join(TOP_KEYS) + ".",
                )
            parts[key.value] = build[key.value](value)
        start, end = root.start_mark, root.end_mark
        return A.Program(
            name=parts.get("model", ""),
            **{k: parts.get(k, ()) for k in TOP_KEYS[1:]},
            file=self.file,
            span=Span(start.line + 1, start.column + 1, end.line + 1, end.column + 1, self.file),
        )


def _others(prog: A.Program, keep: str | None) -> bool:
    """Whether the parsed fragment holds anything besides its ``keep`` part (a header, a block...)."""
    fields = ("data", "dims", "params", "nets", "body", "guides", "generated", "functions")
    return any(getattr(prog, f) for f in fields if f != keep) or (keep is not None and prog.name != "")
