"""Checker behaviour beyond the golden files: all errors collected and sorted, shapes inferred."""

from __future__ import annotations

import pytest

from zsdsl.compiler.pipeline import compile_text
from zsdsl.errors import ErrorGroup, ZsdslError, render_error


def test_all_errors_of_a_stage_are_collected_and_sorted():
    text = "mu ~ Normal(0, sigmaa)\nb ~ Normall(0, 1)\nc = mu + nu\n"
    with pytest.raises(ErrorGroup) as info:
        compile_text(text, "m.zs")
    lines = [e.span.line for e in info.value.errors]
    assert lines == [1, 2, 3]
    rendered = render_error(info.value, text)
    assert rendered.count("m.zs:") == 3


def test_symbolic_shapes_flow_through_plates_and_nets():
    text = (
        "data:\n  x: real[N, 784] in [0, 1]\ndims:\n  z_dim = 40\nnets:\n"
        "  dec = MLP(z_dim -> 500 -> 784, act=relu)\n"
        "plate n in N, subsample=64:\n  z[n] ~ Normal(0, 1), event=[z_dim]\n"
        "  x[n] ~ Bernoulli(logits=dec(z[n])), event=[784]\n"
    )
    ir = compile_text(text).ir
    z = ir.latents[0]
    assert z.ty.shape == (40,) and z.ty.plates == ("n",) and z.sum_rank == 1
    assert ir.plate("n").size == "N" and ir.plate("n").subsample == 64
    assert ir.nets[0].in_shape == (40,) and ir.nets[0].out_shape == (784,)


def test_constrained_latents_get_bijectors():
    text = (
        "mu: ordered[2] ~ Normal(0, 2)\nsigma: real[2] in (0, inf) ~ Normal(0, 2)\n"
        "theta: real in (0, 1) ~ Beta(5, 5)\ntau ~ HalfCauchy(5)\np ~ Dirichlet(full(3, 1.0))\n"
        "L ~ LKJCholesky(3, 2.0)\nlo: real in (-1, inf) ~ Normal(0, 1)\n"
    )
    kinds = {n.name: n.bijector.kind for n in compile_text(text).ir.latents}
    assert kinds == {
        "mu": "ordered",
        "sigma": "positive",
        "theta": "interval",
        "tau": "positive",
        "p": "simplex",
        "L": "corr_cholesky",
        "lo": "lower",
    }


def test_matmul_shapes():
    text = "data:\n  X: real[N, D]\nw ~ Normal(0, 1), event=[D]\nf = X @ w\ng = w @ w\n"
    ir = compile_text(text).ir
    f, g = ir.nodes[1], ir.nodes[2]
    assert f.ty.shape == ("N",) and g.ty.shape == ()


def test_internal_error_is_not_a_user_error():
    from zsdsl.errors import InternalError

    assert not issubclass(InternalError, ZsdslError)
    assert "bug in zsdsl" in str(InternalError("x"))


def test_slices_take_symbolic_and_negative_bounds_and_sizes_simplify():
    text = (
        "data:\n  T: int in [1, inf)\n  K: int in [0, inf)\n  y: real[T]\ndims:\n  Tm1 = T - 1\n"
        "a = y[:T - 1]\nb = y[:-1]\nc = y[-K:]\nd = concat(y[1:], zeros(1)) - y\ne ~ Normal(a, 1), event=[Tm1]\n"
        "f = y[K:]\n"
    )
    shapes = {n.name: n.ty.shape for n in compile_text(text).ir.nodes}
    assert shapes["a"] == shapes["b"] == shapes["e"] == ("T-1",)
    assert shapes["c"] == ("K",) and shapes["d"] == ("T",) and shapes["f"] == ("T-K",)


def test_a_size_computed_from_the_data_is_checked_with_the_data():
    from zsdsl.compiler.data_check import check_data

    ir = compile_text("data:\n  y: real[T]\ndims:\n  Tm1 = T - 2\nm ~ Normal(0, 1), event=[Tm1]\n").ir
    assert check_data(ir, {"y": [1.0, 2.0, 3.0]})["Tm1"] == 1
    with pytest.raises(ErrorGroup) as info:
        check_data(ir, {"y": [1.0]})
    assert str(info.value.errors[0]).endswith("The size 'Tm1' = T-2 is -1 with this data; a size must be non-negative.")


def test_gp_conditionals_take_an_optional_noise_variance_and_say_so():
    import zsdsl

    head = "data:\n  X: real[N, 2]\n  y: real[N]\nu ~ Normal(0, 1)\n"
    zsdsl.loads(head + "plate n in N:\n  y[n] ~ Normal(gp_conditional_mean(X[n], X, y, u, u, 0.1), 1)\n")
    with pytest.raises(ZsdslError, match=r"gp_conditional_var\(\) takes 4 arguments, or 5 with a noise variance last; "
                                         r"got 3"):  # fmt: skip
        zsdsl.loads(head + "plate n in N:\n  y[n] ~ Normal(gp_conditional_var(X[n], X, u), 1)\n")
