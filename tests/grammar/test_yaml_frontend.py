"""The YAML front end: same AST as the text form, spans in the YAML file, clear errors."""

from __future__ import annotations

import pytest

from zsdsl.compiler.ir import dump_ir
from zsdsl.compiler.pipeline import compile_text
from zsdsl.errors import ZsdslError
from zsdsl.grammar.ast import dump_ast
from zsdsl.grammar.parser import parse_spec
from zsdsl.grammar.yaml_frontend import parse_yaml_spec

PAIRS = {
    "vae": (
        "model vae\ndata:\n  x: real[N, 784] in [0, 1]\ndims:\n  z_dim = 40\nnets:\n"
        "  decoder = MLP(z_dim -> 500 -> 784, act=relu)\n"
        "plate n in N, subsample=128:\n  z[n] ~ Normal(0, 1), event=[z_dim]\n"
        "  x[n] ~ Bernoulli(logits=decoder(z[n])), event=[784]\n"
        "guide q:\n  nets:\n    encoder = MLP(784 -> 500 -> 2 * z_dim, act=relu)\n"
        "  plate n in N:\n    h = encoder(x[n])\n    z[n] ~ Normal(h[:z_dim], softplus(h[z_dim:])), event=[z_dim]\n",
        """
model: vae
data: {x: "real[N, 784] in [0, 1]"}
dims: {z_dim: 40}
nets:
  decoder: MLP(z_dim -> 500 -> 784, act=relu)
body:
  - plate: n in N, subsample=128
    body:
      - z[n] ~ Normal(0, 1), event=[z_dim]
      - x[n] ~ Bernoulli(logits=decoder(z[n])), event=[784]
guides:
  q:
    nets: {encoder: "MLP(784 -> 500 -> 2 * z_dim, act=relu)"}
    body:
      - plate: n in N
        body:
          - h = encoder(x[n])
          - z[n] ~ Normal(h[:z_dim], softplus(h[z_dim:])), event=[z_dim]
""",
    ),
    "constrained": (
        "data:\n  N: int\n  y: real[N]\ndims:\n  K\nparams:\n  s: real in (0, inf) = 1.0\n"
        "sigma: real[2] in (0, inf) ~ Normal(0, 2)\ntheta: real in (0, 1) ~ Beta(5, 5)\n"
        "plate n in N:\n  factor log_mix(theta, logpdf(Normal(0, sigma[0]), y[n]), logpdf(Normal(1, sigma[1]), y[n]))\n"
        "generated:\n  y_rep ~ Normal(0, s), event=[N]\n",
        """
data:
  N: int
  y: real[N]
dims: {K: null}
params:
  s: {type: "real in (0, inf)", init: "1.0"}
body:
  - "sigma: real[2] in (0, inf) ~ Normal(0, 2)"
  - "theta: real in (0, 1) ~ Beta(5, 5)"
  - plate: n in N
    body:
      - factor: log_mix(theta, logpdf(Normal(0, sigma[0]), y[n]), logpdf(Normal(1, sigma[1]), y[n]))
generated:
  - y_rep ~ Normal(0, s), event=[N]
""",
    ),
    "sbn_like": (
        "data:\n  x: int[N, 4] in {0, 1}\nplate n in N, subsample=2:\n"
        "  h[n] ~ Bernoulli(logits=0.0), event=[3]\n  c[n] ~ Categorical(logits=zeros(3)), enumerate\n"
        "  x[n] ~ Bernoulli(logits=sum(h[n]) + c[n]), event=[4]\n",
        """
data: {x: "int[N, 4] in {0, 1}"}
body:
  - plate: n in N, subsample=2
    body:
      - h[n] ~ Bernoulli(logits=0.0), event=[3]
      - c[n] ~ Categorical(logits=zeros(3)), enumerate
      - x[n] ~ Bernoulli(logits=sum(h[n]) + c[n]), event=[4]
""",
    ),
}


@pytest.mark.parametrize("name", sorted(PAIRS))
def test_yaml_equals_text(name):
    zs, yml = PAIRS[name]
    a, b = parse_spec(zs, "m.zs"), parse_yaml_spec(yml, "m.zs.yaml")
    assert dump_ast(a) == dump_ast(b)
    assert a == b
    assert dump_ir(compile_text(zs, "m.zs").ir) == dump_ir(compile_text(yml, "m.zs.yaml").ir)


def test_spans_point_into_the_yaml_file():
    prog = parse_yaml_spec(PAIRS["vae"][1], "m.zs.yaml")
    plate = prog.body[0]
    z = plate.body[0]
    assert (z.span.line, z.span.col) == (10, 9)
    assert (z.dist.span.line, z.dist.span.col) == (10, 16)
    decoder_call = plate.body[1].dist.kwargs[0].value
    assert (decoder_call.span.line, decoder_call.span.col) == (11, 33)
    assert (plate.span.line, plate.span.col) == (8, 12 - 6)  # 'plate ' prefix shifted back


def test_quoted_scalars_and_check_errors_are_located():
    text = 'body:\n  - "mu ~ Normal(0, sigmaa)"\n'
    with pytest.raises(ZsdslError) as info:
        compile_text(text, "m.zs.yaml")
    err = info.value.errors[0] if hasattr(info.value, "errors") else info.value
    assert (err.span.line, err.span.col) == (2, 21)  # inside the quotes
    assert "sigmaa" in err.message


@pytest.mark.parametrize(
    "text, fragment, line",
    [
        ("body:\n  - mu ~ Normal(0, 1\n", "not closed", 2),
        ("bdy:\n  - mu ~ Normal(0, 1)\n", "Did you mean 'body'?", 1),
        ("body:\n  - [1, 2]\n", "Expected a statement as a string", 2),
        ("body:\n  - plate: n in N\n", "needs a 'body'", 2),
        ("body:\n  - {foo: 1}\n", "A statement mapping is a plate", 2),
        ("data:\n  x: [1\n", "Invalid YAML", 3),
        ("body: 3\n", "Expected statements as a list", 1),
        ("data:\n  x: reel\n", "Unknown type 'reel'", 2),
        ("guides:\n  q: {nets: {}, bodyy: []}\n", "Unknown key 'bodyy'", 2),
    ],
)
def test_yaml_errors(text, fragment, line):
    with pytest.raises(ZsdslError) as info:
        compile_text(text, "m.zs.yaml")
    err = info.value.errors[0] if hasattr(info.value, "errors") else info.value
    assert fragment in err.message
    assert err.span.line == line
    assert err.span.file == "m.zs.yaml"
