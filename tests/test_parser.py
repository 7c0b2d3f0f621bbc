"""Parser: positions on nodes, curated syntax messages kept live, comments and continuation lines."""

from __future__ import annotations

import pytest

from zsdsl.errors import SyntaxError_
from zsdsl.grammar import ast as A
from zsdsl.grammar.parser import parse_spec
from zsdsl.grammar.syntax_messages import CURATED_EXAMPLES, STAN_HABITS


@pytest.mark.parametrize("message, example", [(m, e) for m, examples in CURATED_EXAMPLES.items() for e in examples])
def test_every_curated_example_fails_with_its_message(message, example):
    with pytest.raises(SyntaxError_) as info:
        parse_spec(example, "ex.zs")
    assert info.value.message == message


@pytest.mark.parametrize("message, example", [(m, e) for _, m, examples in STAN_HABITS for e in examples])
def test_every_stan_habit_gets_the_zsdsl_form(message, example):
    with pytest.raises(SyntaxError_) as info:
        parse_spec(example, "ex.zs")
    assert info.value.message == message


def test_stan_types_and_sampling_a_computed_value_get_the_zsdsl_form():
    from zsdsl.compiler.pipeline import compile_text
    from zsdsl.errors import ErrorGroup

    cases = {
        "data:\n  y: vector[N]\n": "Unknown type 'vector'. Stan's vector[N] is real[N] here.",
        "data:\n  X: matrix[N, K]\n": "Unknown type 'matrix'. Stan's matrix[N, K] is real[N, K] here.",
        "data:\n  y: real[N]\nmu ~ Normal(0, 1)\nerr = y - mu\nerr ~ Normal(0, 1), event=[N]\n": (
            "'err' is computed at line 4, so '~' cannot sample it. To add the log density of a computed value "
            "(Stan's 'err ~ ...' on a transformed parameter), write 'factor logpdf(Normal(...), err)' (a factor of "
            "a vector adds up its elements)."
        ),
    }
    for text, message in cases.items():
        with pytest.raises(ErrorGroup) as info:
            compile_text(text, "m.zs")
        assert [e.message for e in info.value.errors] == [message]


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
