"""The support library of generated code, imported as ``from zsdsl.runtime import lib as zl``.

``zl.dist`` (distribution factories), ``zl.bij`` (bijectors), ``zl.nets`` (networks),
the builtin functions at top level, plate helpers and the model/guide base classes.
"""

from zsdsl.runtime.lib import bijectors as bij
from zsdsl.runtime.lib import distributions as dist
from zsdsl.runtime.lib import lpdf, nets
from zsdsl.runtime.lib.distributions import log_prob, site_log_prob
from zsdsl.runtime.lib.functions import *  # noqa: F403 - the builtin function namespace
from zsdsl.runtime.lib.hmm_jit import hmm_adjoint_np, hmm_forward_np
from zsdsl.runtime.lib.kernels import *  # noqa: F403 - the GP covariance functions
from zsdsl.runtime.lib.loops import scan
from zsdsl.runtime.lib.model_base import CriticBase, GuideBase, ModelBase, Site
from zsdsl.runtime.lib.ode import ode_jit, ode_rk45, ode_solve_np, ode_times_np
from zsdsl.runtime.lib.plates import (
    fill_plates,
    given,
    leading_shape,
    lift,
    plate_arange,
    plate_indices,
    plate_scale,
    plate_size,
    scaled,
    size_given,
    size_of,
    take_plate,
)

__all__ = [
    "CriticBase", "GuideBase", "ModelBase", "Site", "bij", "dist", "fill_plates", "given", "hmm_adjoint_np",
    "hmm_forward_np",
    "leading_shape", "lift", "log_prob",
    "lpdf", "nets", "ode_jit", "ode_rk45", "ode_solve_np", "ode_times_np", "plate_arange",
    "plate_indices", "plate_scale", "plate_size", "scaled", "scan", "site_log_prob",
    "size_given", "size_of", "take_plate",
]  # fmt: skip
