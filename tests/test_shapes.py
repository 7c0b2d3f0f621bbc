"""Symbolic shape helpers."""

import pytest

from zsdsl.compiler.shapes import ShapeMismatch, broadcast, dim_op, matmul_shape, slice_len


def test_broadcast_symbolic():
    assert broadcast(("N", 1), (3,)) == ("N", 3)
    assert broadcast((), ("K",)) == ("K",)
    with pytest.raises(ShapeMismatch):
        broadcast(("N",), ("M",))


def test_dim_arithmetic_folds_constants():
    assert dim_op("*", 2, 40) == 80
    assert dim_op("+", "K", 10) == "K+10"
    assert dim_op("*", 1, "K") == "K"
    assert dim_op("//", 6, 4) == 1


def test_size_arithmetic_is_simplified_to_one_canonical_form():
    from zsdsl.compiler.shapes import canonical, evaluate

    assert dim_op("+", dim_op("-", "T", 1), 1) == "T"  # concat(y[1:], zeros(1)) has y's length
    assert dim_op("-", "T", "T") == 0 and dim_op("-", dim_op("*", 2, "K"), "K") == "K"
    assert dim_op("*", "N", "K") == dim_op("*", "K", "N") == "K*N"
    assert canonical("(T-1)+1") == "T" and canonical("1+T-K") == "T-K+1"
    assert dim_op("//", dim_op("*", 2, "N"), 2) == "N"  # exact: the quotient
    half = dim_op("//", "N", 2)  # not exact: kept whole, evaluated with the data
    assert evaluate(half, {"N": 7}) == 3 and evaluate(dim_op("*", "K", half), {"N": 7, "K": 3}) == 9
    assert evaluate("T-K+1", {"T": 10}) is None


def test_matmul_and_slices():
    assert matmul_shape(("N", "D"), ("D",)) == (("N",), "matvec")
    assert matmul_shape(("K",), ("K", "V")) == (("V",), "vecmat")
    assert slice_len(80, None, 40) == 40 and slice_len(80, 40, None) == 40
    assert slice_len(10, -3, None) == 3


def test_a_full_slice_keeps_its_symbolic_dim():

    assert slice_len("N", None, None) == "N"
    assert slice_len("N", 0, None) == "N"
    assert slice_len("K", 1, None) == "K-1"
    assert dim_op("-", "K", "K") == 0
