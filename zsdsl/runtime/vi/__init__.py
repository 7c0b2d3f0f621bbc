"""Variational inference: objectives (sgvb, iwae, vimco), guides (compiled, auto-normal), training."""

from zsdsl.runtime.vi.guides import AutoNormal, make_guide
from zsdsl.runtime.vi.objectives import IWAE, SGVB, VIMCO, make_objective
from zsdsl.runtime.vi.train import FitConfig, FitResult, fit

__all__ = ["IWAE", "SGVB", "VIMCO", "AutoNormal", "FitConfig", "FitResult", "fit", "make_guide", "make_objective"]
