"""``parse_spec(text, file) -> ast.Program``: the Lark LALR parser, built once and cached.

Lark's exceptions never escape: they are re-raised as ``zsdsl.errors.SyntaxError_``
with a span and, where a curated example matches, a message written for people.
"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from lark import Lark, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken
from lark.exceptions import VisitError
from lark.indenter import Indenter

from zsdsl.errors import Span, SyntaxError_, ZsdslError
from zsdsl.grammar import ast as A
from zsdsl.grammar.syntax_messages import CURATED_EXAMPLES, STAN_HABITS
from zsdsl.grammar.transform import ToAst

GRAMMAR_FILE = Path(__file__).with_name("zsdsl.lark")

_TOKEN_NAMES = {
    "_NL": "end of line",
    "_INDENT": "an indented block",
    "_DEDENT": "the end of the block",
    "NAME": "a name",
    "NUMBER": "a number",
    "COLON": "':'",
    "TILDE": "'~'",
    "EQUAL": "'='",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "$END": "the end of the file",
}


class _ZsIndenter(Indenter):
    NL_type = "_NL"
    OPEN_PAREN_types = ["LPAR", "LSQB", "LBRACE"]
    CLOSE_PAREN_types = ["RPAR", "RSQB", "RBRACE"]
    INDENT_type = "_INDENT"
    DEDENT_type = "_DEDENT"
    tab_len = 8


@functools.cache
def _parser() -> Lark:
    return Lark(
        GRAMMAR_FILE.read_text(),
        parser="lalr",
        postlex=_ZsIndenter(),
        propagate_positions=True,
        maybe_placeholders=True,
    )


def parse_spec(text: str, file: str = "<string>") -> A.Program:
    """Parse model text into an AST; raises ``SyntaxError_`` on malformed input."""
    if not text.endswith("\n"):
        text += "\n"
    try:
        tree = _parser().parse(text)
    except UnexpectedInput as exc:
        raise _syntax_error(exc, text, file) from None
    except Exception as exc:  # the indenter raises plain errors on bad dedents
        if "DedentError" in type(exc).__name__ or "dedent" in str(exc).lower():
            raise SyntaxError_(
                "Unindent does not match any outer indentation level.", _guess_dedent_span(text, file)
            ) from None
        raise
    try:
        return ToAst(file).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, ZsdslError):
            raise exc.orig_exc from None
        raise


def _syntax_error(exc: UnexpectedInput, text: str, file: str) -> SyntaxError_:
    line, col = getattr(exc, "line", 0) or 0, getattr(exc, "column", 0) or 0
    if isinstance(exc, UnexpectedEOF) or line <= 0:
        lines = text.rstrip("\n").splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
    width = 1
    if isinstance(exc, UnexpectedToken) and exc.token.type not in ("_NL", "$END", "_DEDENT", "_INDENT"):
        width = max(1, len(str(exc.token)))
    span = Span(line, col, line, col + width, file)
    habit = stan_habit(text.splitlines()[line - 1] if 0 < line <= len(text.splitlines()) else "")
    if habit:
        return SyntaxError_(habit, span)
    curated = _curated(exc, text)
    if curated:
        return SyntaxError_(curated, span)
    if isinstance(exc, UnexpectedCharacters):
        ch = text.splitlines()[line - 1][col - 1 : col] if line - 1 < len(text.splitlines()) else "?"
        return SyntaxError_(f"Unexpected character {ch!r}.", span)
    if isinstance(exc, UnexpectedToken):
        found = _describe_token(exc.token)
        expected = _describe_expected(exc.expected)
        return SyntaxError_(f"Unexpected {found}; expected {expected}.", span)
    return SyntaxError_("Unexpected end of file.", span)


def stan_habit(line: str) -> str | None:
    """The message for a Stan construct on the line where parsing failed, if there is one."""
    for pattern, message, _ in STAN_HABITS:
        if re.search(pattern, line):
            return message
    return None


def _curated(exc: UnexpectedInput, text: str) -> str | None:
    try:
        return exc.match_examples(_parser().parse, CURATED_EXAMPLES, use_accepts=True)
    except Exception:  # a curated table problem must never hide the user's error
        return None


def _describe_token(tok) -> str:
    if tok.type in _TOKEN_NAMES:
        name = _TOKEN_NAMES[tok.type]
        name = (
            name.removeprefix("an ").removeprefix("a ").removeprefix("the ")
        )  # "Unexpected name 'T'", not "Unexpected a name"
        if name == "indented block":  # the usual cause: a statement continued on the next line
            return "indented line (a statement continues on the next line only inside brackets)"
        return name if tok.type.startswith(("_", "$")) else f"{name} {str(tok)!r}"
    return f"{str(tok)!r}"


def _describe_expected(expected) -> str:
    names = sorted({_TOKEN_NAMES.get(t, _anon(t)) for t in expected})
    if len(names) > 6:
        names = names[:6] + ["..."]
    return " or ".join(names) if len(names) <= 2 else ", ".join(names[:-1]) + " or " + names[-1]


def _anon(term: str) -> str:
    try:
        pattern = _parser().get_terminal(term).pattern
        return f"'{pattern.value}'" if pattern.type == "str" else term
    except KeyError:
        return term


def _guess_dedent_span(text: str, file: str) -> Span:
    indents: list[int] = [0]
    for n, raw in enumerate(text.splitlines(), 1):
        stripped = raw.lstrip(" \t")
        if not stripped or stripped.startswith("#"):
            continue
        width = len(raw) - len(stripped)
        if width > indents[-1]:
            indents.append(width)
        else:
            while indents and width < indents[-1]:
                indents.pop()
            if not indents or indents[-1] != width:
                return Span(n, 1, n, width + 1, file)
    return Span(1, 1, 1, 2, file)
