"""LDA (``specs/lda.zs``, K = 50) on the AP corpus, side by side with scikit-learn's
``LatentDirichletAllocation`` on the same split, topic count and priors; prints JSON.

The split is the dataset reader's: ``ap_counts.npz:train`` (2,022 documents) and ``:test`` (224), a
fixed permutation of the documents (numpy rng 0). Both fits see the training documents only.

Held-out perplexity by **document completion** (Wallach et al. 2009, "Evaluation Methods for Topic
Models", §4.2), computed by one routine for both fits, so that only the topics differ: each test
document's tokens are split at random in two halves (binomial thinning, numpy rng 1); the document's
proportions θ are fitted on the first half by LDA's variational E-step with the topics fixed (the
model's prior α = 0.5, as both fits use); the second half is scored,

    perplexity = exp(- Σ_docs Σ_w n'_dw log Σ_k θ_dk φ_kw / Σ n'),

with φ the topics' posterior mean: zsdsl's from the fitted guide's draws, scikit-learn's from its
variational parameters (``components_`` normalised: the mean of its Dirichlet q(φ)). scikit-learn's own
``perplexity`` of the test documents is reported beside it: a bound whose q(φ) term is divided by the
test set's word count, so it depends on the test set's size and is not comparable across methods.

zsdsl fits with ``--infer sgvb --guide q``: an amortized Dirichlet guide for θ (an encoder of the
document's log counts) and a Dirichlet q(φ) with free concentrations, as in scikit-learn's mean field.

python benchmarks/lda_ap.py                    # both, the full runs
python benchmarks/lda_ap.py --quick            # a few steps on 200 documents (CI; scikit-learn if installed)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.special import digamma

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import ROOT, SHARED, command, machine  # noqa: E402

import zsdsl  # noqa: E402
from zsdsl.runtime.data import load_data  # noqa: E402

DATA = SHARED / "text" / "ap" / "ap_counts.npz"
ALPHA, ETA = 0.5, 0.1  # the spec's priors: Dirichlet(0.5) proportions, Dirichlet(0.1) topics


def halves(counts: np.ndarray, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Each document's tokens split at random in two: (observed, held out)."""
    observed = np.random.default_rng(seed).binomial(counts, 0.5)
    return observed, counts - observed


def fit_proportions(phi: np.ndarray, counts: np.ndarray, iters: int = 200, tol: float = 1e-6) -> np.ndarray:
    """θ per document by LDA's variational E-step (Blei et al. 2003, eq. 6-7) with the topics ``phi``
    [K, V] fixed: γ = α + Σ_w n_w r_wk, r_wk ∝ φ_kw exp(ψ(γ_k)); returns γ normalised."""
    K = phi.shape[0]
    gamma = np.full((counts.shape[0], K), ALPHA + counts.sum(1, keepdims=True) / K)
    for _ in range(iters):
        weights = np.exp(digamma(gamma) - digamma(gamma.sum(1, keepdims=True)))  # [D, K]
        mix = weights @ phi + 1e-300  # [D, V]: Σ_k exp(E log θ_k) φ_kw
        new = ALPHA + weights * ((counts / mix) @ phi.T)
        done = np.abs(new - gamma).max() < tol
        gamma = new
        if done:
            break
    return gamma / gamma.sum(1, keepdims=True)


def completion_perplexity(phi: np.ndarray, counts: np.ndarray) -> float:
    observed, held_out = halves(counts)
    theta = fit_proportions(phi, observed)
    log_lik = (held_out * np.log(theta @ phi + 1e-300)).sum()
    return float(np.exp(-log_lik / held_out.sum()))


def zsdsl_topics(steps: int, lr: float, train: dict, draws: int, seed: int) -> tuple[np.ndarray, dict]:
    """The posterior mean of φ from ``draws`` of the fitted guide, and the fit's figures."""
    # float64: in float32 the Dirichlet draws of the proportions underflow to exact zeros, whose
    # pathwise gradients are NaN (the fit stopped with non-finite encoder weights at step 497)
    torch.set_default_dtype(torch.float64)
    cm = zsdsl.load(ROOT / "specs" / "lda.zs")
    t0 = time.perf_counter()
    result = cm.fit(train, infer="sgvb", guide="q", steps=steps, lr=lr, seed=seed)
    fit_s = time.perf_counter() - t0
    torch.manual_seed(seed)
    with torch.no_grad():  # one document's θ drawn with each φ: only φ is needed
        values, _, _ = result.guide.sample_and_log_prob(result.data, (draws,), {"d": torch.tensor([0])})
    phi = values["phi"].double().mean(0).numpy()
    return phi, {"steps": steps, "lr": lr, "fit_s": fit_s, "final_objective": result.final_objective}


def sklearn_topics(max_iter: int, counts: np.ndarray, seed: int):
    """scikit-learn's batch variational Bayes with the spec's priors; None when it is not installed."""
    try:
        from sklearn.decomposition import LatentDirichletAllocation
    except ImportError:
        return None, None, {"skipped": "scikit-learn is not installed (pip install scikit-learn)"}
    import sklearn

    lda = LatentDirichletAllocation(n_components=50, doc_topic_prior=ALPHA, topic_word_prior=ETA,
                                    learning_method="batch", max_iter=max_iter, random_state=seed)  # fmt: skip
    t0 = time.perf_counter()
    lda.fit(counts)
    fit_s = time.perf_counter() - t0
    phi = lda.components_ / lda.components_.sum(1, keepdims=True)
    return phi, lda, {"version": sklearn.__version__, "max_iter": max_iter, "fit_s": fit_s}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--lr", type=float, default=0.01)
    ap.add_argument("--sklearn-iter", type=int, default=100, help="scikit-learn's passes over the corpus")
    ap.add_argument("--draws", type=int, default=100)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true")
    args = ap.parse_args()
    if not DATA.exists():
        print(json.dumps({"benchmark": "lda_ap", "skipped": f"{DATA} not found"}))
        return
    train, test = load_data(f"{DATA}:train"), load_data(f"{DATA}:test")
    if args.quick:
        train, test = {"counts": train["counts"][:200]}, {"counts": test["counts"][:50]}
        args.steps, args.sklearn_iter, args.draws = 5, 2, 5
    out = {"benchmark": "lda_ap", "machine": machine(), "command": command(), "topics": 50,
           "train_docs": len(train["counts"]), "test_docs": len(test["counts"]),
           "test_heldout_tokens": int(halves(test["counts"])[1].sum())}  # fmt: skip
    phi, figures = zsdsl_topics(args.steps, args.lr, train, args.draws, args.seed)
    out["zsdsl"] = {**figures, "completion_perplexity": completion_perplexity(phi, test["counts"])}
    phi, lda, figures = sklearn_topics(args.sklearn_iter, train["counts"], args.seed)
    if phi is None:
        out["sklearn"] = figures
    else:
        out["sklearn"] = {**figures, "completion_perplexity": completion_perplexity(phi, test["counts"]),
                          "own_perplexity": float(lda.perplexity(test["counts"]))}  # fmt: skip
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
