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
    assert dim_op("//", 6, 4) == "6//4"


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
