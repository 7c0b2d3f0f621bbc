"""Dataset readers on small generated files in the distributed layouts, and `zsdsl evaluate`."""

from __future__ import annotations

import gzip
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

import zsdsl
from zsdsl.cli import main
from zsdsl.errors import DataError
from zsdsl.runtime.data import load_data
from zsdsl.runtime.vi.evaluate import evaluate

torch.set_default_dtype(torch.float64)
ROOT_SPECS = Path(__file__).resolve().parents[2] / "specs"


def test_binarized_mnist_layout(tmp_path):
    bits = (np.random.default_rng(0).random((5, 784)) < 0.3).astype(np.uint8)
    np.savez(tmp_path / "b.npz", train=np.packbits(bits, axis=1), valid=np.packbits(bits[:2], axis=1),
             test=np.packbits(bits[:3], axis=1))  # fmt: skip
    d = load_data(f"{tmp_path / 'b.npz'}:test")
    assert np.array_equal(d["x"], bits[:3]) and d["N"] == 3
    assert load_data(tmp_path / "b.npz")["x"].shape == (5, 784)  # train by default
    with pytest.raises(DataError, match="Unknown split 'tst'; this dataset has test, train, valid."):
        load_data(f"{tmp_path / 'b.npz'}:tst")


def test_mnist_with_labels_and_the_semi_supervised_split(tmp_path):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (60, 28, 28), dtype=np.uint8)
    y = np.repeat(np.arange(10), 6).astype(np.uint8)
    np.savez(tmp_path / "m.npz", x_train=x, y_train=y, x_test=x[:10], y_test=y[:10])
    d = load_data(f"{tmp_path / 'm.npz'}:train")
    assert d["x"].shape == (60, 784) and d["x"].max() <= 1.0 and d["y"].tolist() == y.tolist()
    s = load_data(f"{tmp_path / 'm.npz'}:train-ssl20")
    assert s["x_l"].shape == (20, 784) and sorted(np.bincount(s["y_l"]).tolist()) == [2] * 10
    assert s["x_u"].shape == (40, 784) and s["N_total"] == 60
    # the held-back labels line up with the unlabelled rows
    rows = {tuple(r): int(lab) for r, lab in zip(d["x"], d["y"])}
    assert [rows[tuple(r)] for r in s["x_u"]] == s["labels_u"].tolist()
    # test-ssl20: the same labelled training rows, every test image unlabelled (its label held back)
    t = load_data(f"{tmp_path / 'm.npz'}:test-ssl20")
    assert np.array_equal(t["x_l"], s["x_l"]) and np.array_equal(t["y_l"], s["y_l"]) and t["N_total"] == 60
    assert np.array_equal(t["x_u"], x[:10].reshape(10, -1) / 255.0) and t["labels_u"].tolist() == y[:10].tolist()


def test_bag_of_words_layout_densifies_and_splits_the_documents(tmp_path):
    rng = np.random.default_rng(2)
    dense = rng.integers(0, 3, (30, 7)) * (rng.random((30, 7)) < 0.5)
    doc, word = np.nonzero(dense)
    np.savez(tmp_path / "c.npz", doc=doc.astype(np.int32), word=word.astype(np.int32),
             count=dense[doc, word].astype(np.int32), n_docs=np.int32(30), n_words=np.int32(7))  # fmt: skip
    path = tmp_path / "c.npz"
    assert np.array_equal(load_data(path)["counts"], dense)  # "all" by default
    train, test = load_data(f"{path}:train")["counts"], load_data(f"{path}:test")["counts"]
    assert train.shape == (27, 7) and test.shape == (3, 7)
    # the two splits are disjoint and together the corpus: every document lands in exactly one
    assert sorted(map(tuple, np.concatenate([train, test]).tolist())) == sorted(map(tuple, dense.tolist()))
    with pytest.raises(DataError, match="Unknown split 'valid'; this dataset has all, train, test."):
        load_data(f"{path}:valid")


def test_uci_layout_standardises_with_training_statistics(tmp_path):
    folder = tmp_path / "toy"
    folder.mkdir()
    rng = np.random.default_rng(2)
    table = np.column_stack([rng.normal(size=(20, 2)), rng.normal(5, 2, size=20)])
    with gzip.open(folder / "data.csv.gz", "wt") as fh:
        fh.write("c0,c1,c2\n" + "\n".join(",".join(f"{v:.6f}" for v in row) for row in table))
    (folder / "meta.json").write_text(json.dumps({"feature_columns": [0, 1], "target_column": 2}))
    np.savez(folder / "splits.npz", train_0=np.arange(15), test_0=np.arange(15, 20))
    tr, te = load_data(f"{folder}:train_0"), load_data(f"{folder}:test_0")
    assert tr["X"].shape == (15, 2) and te["X"].shape == (5, 2)
    assert abs(tr["y"].mean()) < 1e-6 and abs(tr["y"].std() - 1) < 1e-6
    np.testing.assert_allclose(te["y"] * tr["y_std"] + tr["y_mean"], table[15:, 2], atol=1e-5)


def test_marginal_likelihood_estimate_is_exact_for_a_linear_gaussian_model():
    # z_n ~ N(0, 1), x_n ~ N(z_n, 1): log p(x_n) = log N(x_n; 0, 2); the guide q(z|x) = N(x/2, sqrt(1/2))
    # is the exact posterior, so every importance weight equals p(x_n) and the estimate is exact.
    cm = zsdsl.loads(
        "data:\n  x: real[N]\nplate n in N, subsample=4:\n  z[n] ~ Normal(0, 1)\n  x[n] ~ Normal(z[n], 1)\n"
        "guide q:\n  plate n in N:\n    z[n] ~ Normal(x[n] / 2, sqrt(0.5))\n",
        "lg.zs",
    )
    x = torch.tensor([0.3, -1.2, 2.0, 0.7, 1.1, -0.4, 0.0])
    data = cm.prepare_data({"x": x})
    model, guide = cm.model(data), cm.guide("q", data)
    out = evaluate(model, guide, data, particles=50, chunk=20, batch=3)
    exact = torch.distributions.Normal(0.0, math.sqrt(2.0)).log_prob(x).mean()
    assert out["kind"] == "marginal_likelihood" and out["n"] == 7
    assert abs(out["log_likelihood"] - float(exact)) < 1e-9
    assert abs(out["elbo"] - float(exact)) < 1e-9


def test_marginal_likelihood_sums_an_enumerated_class_and_covers_every_latent_plate():
    # plate n: y ~ Bernoulli(0.3), z ~ N(2y - 1, 1), x ~ N(z, 1); the guide's z given (x, y) is exact and its
    # q(y) = 0.5 is not. Stratified over y, each weight p(x, k, z) / q(z | x, k) equals p(x, k), so the
    # estimate is log p(x) exactly; q(y) drawn instead would leave it random. Plate m is the linear-Gaussian
    # model above. The ELBO of plate n is E_q(y)[log p(x, y) - log q(y)], exactly.
    cm = zsdsl.loads(
        "data:\n  x: real[N]\n  u: real[M]\n"
        "plate n in N, subsample=2:\n  y[n] ~ Bernoulli(0.3)\n  z[n] ~ Normal(2 * y[n] - 1, 1)\n"
        "  x[n] ~ Normal(z[n], 1)\n"
        "plate m in M, subsample=2:\n  w[m] ~ Normal(0, 1)\n  u[m] ~ Normal(w[m], 1)\n"
        "guide q:\n  plate n in N:\n    y[n] ~ Bernoulli(0.5), enumerate\n"
        "    z[n] ~ Normal((2 * y[n] - 1 + x[n]) / 2, sqrt(0.5))\n"
        "  plate m in M:\n    w[m] ~ Normal(u[m] / 2, sqrt(0.5))\n",
        "mix.zs",
    )
    x = torch.tensor([0.3, -1.2, 2.0, 0.7, 1.1])
    u = torch.tensor([0.5, -0.8, 1.5])
    data = cm.prepare_data({"x": x, "u": u})
    model, guide = cm.model(data), cm.guide("q", data)
    out = evaluate(model, guide, data, particles=7, chunk=3, batch=2)
    sd2 = math.sqrt(2.0)
    log_pxk = torch.stack([math.log(0.7) + torch.distributions.Normal(-1.0, sd2).log_prob(x),
                           math.log(0.3) + torch.distributions.Normal(1.0, sd2).log_prob(x)])  # fmt: skip
    ll_n = torch.logsumexp(log_pxk, 0)
    ll_m = torch.distributions.Normal(0.0, sd2).log_prob(u)
    elbo_n = (0.5 * (log_pxk - math.log(0.5))).sum(0)
    assert out["plate"] == "m,n" and out["n"] == 8 and out["enumerated"] == {"n": "y"}
    assert abs(out["plates"]["n"]["log_likelihood"] - float(ll_n.mean())) < 1e-9
    assert abs(out["plates"]["n"]["elbo"] - float(elbo_n.mean())) < 1e-9
    assert abs(out["plates"]["m"]["log_likelihood"] - float(ll_m.mean())) < 1e-9
    assert abs(out["log_likelihood"] - float(torch.cat([ll_m, ll_n]).mean())) < 1e-9
    assert json.dumps(out)  # plain numbers: the CLI writes it as JSON


def test_evaluate_cli_on_a_regression_run(tmp_path):
    spec = tmp_path / "reg.zs"
    spec.write_text(
        "data:\n  N: int\n  x: real[N]\n  y: real[N]\nw ~ Normal(0, 10)\n"
        "plate n in N:\n  y[n] ~ Normal(w * x[n], 0.5)\n"
    )
    rng = np.random.default_rng(3)
    x = rng.normal(size=40)
    y = 2.0 * x + 0.5 * rng.normal(size=40)
    (tmp_path / "train.json").write_text(json.dumps({"N": 30, "x": x[:30].tolist(), "y": y[:30].tolist()}))
    (tmp_path / "test.json").write_text(json.dumps({"N": 10, "x": x[30:].tolist(), "y": y[30:].tolist()}))
    run = tmp_path / "run"
    r = CliRunner().invoke(main, ["fit", str(spec), "--data", str(tmp_path / "train.json"), "--steps", "800",
                                  "--lr", "0.05", "--particles", "4", "--out", str(run)])  # fmt: skip
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(main, ["evaluate", str(run), "--data", str(tmp_path / "test.json"), "--particles", "400"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["kind"] == "predictive" and out["y"]["n"] == 10
    # noise sd 0.5: the RMSE of the predictive mean is near 0.5, the log-likelihood near log N(0; 0, 0.5) - 1/2
    assert 0.25 < out["y"]["rmse"] < 0.8
    assert -1.4 < out["y"]["log_likelihood"] < -0.2
    assert json.loads((run / "evaluation.json").read_text()) == out


def test_classification_error_is_the_guide_classifiers_argmax_error():
    from pathlib import Path

    from zsdsl.errors import UsageError
    from zsdsl.runtime.vi.evaluate import classification_error

    cm = zsdsl.load(Path(__file__).resolve().parents[2] / "specs" / "ssvae_m2.zs")
    g = torch.Generator().manual_seed(0)
    raw = {"x_l": torch.rand(10, 784, generator=g), "y_l": torch.arange(10), "x_u": torch.rand(37, 784, generator=g),
           "N_total": 47}  # fmt: skip
    data = cm.prepare_data(raw)
    model, guide = cm.model(data), cm.guide("q", data)
    labels = torch.randint(0, 10, (37,), generator=g)
    out = classification_error(model, guide, data, "y_u", labels, batch=16)
    with torch.no_grad():
        pred = guide.net_classifier(data["x_u"]).argmax(-1)
    assert out == {"site": "y_u", "n": 37, "classes": 10, "error": int((pred != labels).sum()) / 37}
    with pytest.raises(UsageError, match="no latent 'y'"):
        classification_error(model, guide, data, "y", labels)


def test_a_test_set_smaller_than_the_params_initial_slice_evaluates_and_a_train_set_is_told(tmp_path):
    """svgp's Z = X[:50]: evaluating on 20 test rows loads the fitted Z (no initial values from the test
    data); fitting on 30 rows says the initial values cannot be computed, not a torch traceback."""
    from zsdsl.runtime.vi.evaluate import rebind

    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 2))
    y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=80)
    cm = zsdsl.load(__import__("pathlib").Path(__file__).resolve().parents[2] / "specs" / "svgp.zs")
    train = {"X": X[:60].tolist(), "y": y[:60].tolist()}
    result = cm.fit(train, infer="sgvb", guide="q", steps=5, seed=0, progress=False)
    test = cm.prepare_data({"X": X[60:].tolist(), "y": y[60:].tolist()})
    model, guide = rebind(cm, test, result)
    torch.testing.assert_close(model.param_Z, result.model.param_Z)
    assert math.isfinite(evaluate(model, guide, test, particles=10)["y"]["rmse"])
    with pytest.raises(DataError, match=r"The params' initial values \(params: \.\.\. = EXPR\) cannot be computed"):
        cm.fit({"X": X[:30].tolist(), "y": y[:30].tolist()}, infer="sgvb", guide="q", steps=1, progress=False)


def test_a_guide_param_init_the_data_cannot_give_is_a_data_error_and_rebinding_skips_it():
    from zsdsl.runtime.vi.evaluate import rebind

    cm = zsdsl.load(ROOT_SPECS / "lda.zs")  # the guide seeds its K = 50 topics with the first 50 documents
    counts = torch.randint(0, 3, (60, 12))
    result = cm.fit({"counts": counts}, infer="sgvb", guide="q", steps=2, seed=0)
    model, guide = rebind(cm, {"counts": counts[:10]}, result)  # ten test documents: no init needed
    assert torch.equal(guide.guide.param_lam, result.guide.guide.param_lam)
    with pytest.raises(DataError, match=r"Guide 'q': its params' initial values \(params: \.\.\. = EXPR\) cannot "
                                        "be computed from this data"):  # fmt: skip
        cm.fit({"counts": counts[:10]}, infer="sgvb", guide="q", steps=2, seed=0)
