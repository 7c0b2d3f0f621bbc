"""Parser: positions on nodes, curated syntax messages kept live, comments and continuation lines."""

from __future__ import annotations

import pytest

from zsdsl.errors import SyntaxError_
from zsdsl.grammar import ast as A
from zsdsl.grammar.parser import parse_spec
from zsdsl.grammar.syntax_messages import CURATED_EXAMPLES


@pytest.mark.parametrize("message, example", [(m, e) for m, examples in CURATED_EXAMPLES.items() for e in examples])
def test_every_curated_example_fails_with_its_message(message, example):
    with pytest.raises(SyntaxError_) as info:
        parse_spec(example, "ex.zs")
    assert info.value.message == message


def test_positions_on_nodes():
    prog = parse_spec("# data: none\nmodel m\n\nmu ~ Normal(0, 5)\nplate j in J:\n  y[j] ~ Normal(mu, 1)\n", "m.zs")
    mu = prog.body[0]
    assert (mu.span.line, mu.span.col) == (4, 1)
    assert (mu.dist.span.line, mu.dist.span.col) == (4, 6)
    y = prog.body[1].body[0]
    assert (y.span.line, y.span.col) == (6, 3)
    assert y.dist.args[0].span.col == 17


def test_comments_and_bracket_continuation():
    text = "mu ~ Normal(  # a comment\n    0,\n    5)  # trailing\n# a line comment\nx = [1,\n 2]\n"
    prog = parse_spec(text)
    assert isinstance(prog.body[0], A.Sample) and isinstance(prog.body[1].value, A.ListExpr)


def test_expression_precedence():
    prog = parse_spec("y = -a ** 2 + b[1:, :3] @ c * 2 < 1\n")
    e = prog.body[0].value
    assert isinstance(e, A.BinOp) and e.op == "<"
    add = e.left
    assert add.op == "+" and isinstance(add.left, A.Neg)
    assert add.right.op == "*" and add.right.left.op == "@"
    idx = add.right.left.left
    assert isinstance(idx, A.Index) and isinstance(idx.indices[0], A.Slice)


def test_types_and_constraints():
    prog = parse_spec("data:\n  y: int[N] in [0, 10)\n  s: real in (0, inf)\n  b: int[3] in {0, 1}\n")
    y, s, b = prog.data
    assert y.type.upper_open and not y.type.lower_open and y.type.upper.value == 10
    assert s.type.lower_open and s.type.upper.value == float("inf")
    assert [v.value for v in b.type.values] == [0, 1]
