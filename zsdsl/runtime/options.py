"""Which options apply to which engine, checked before any work starts.

An option given for an engine it does not apply to (``--baseline`` with sgvb, ``--friction``
with NUTS) is refused with an ``OptionError`` naming the engines it is for: nothing is ignored
silently. ``given`` is what the user set explicitly (command-line options, or the keywords of
``CompiledModel.fit``/``sample``), by configuration field name.
"""

from __future__ import annotations

from zsdsl.errors import OptionError

# The SG-MCMC methods (zsdsl.runtime.mcmc.sgmcmc implements them): named here, where nothing heavier
# than the errors is imported, so that commands that only read a run start fast.
SG_METHODS = ("sgld", "psgld", "sghmc", "sgnht")
_SG = SG_METHODS

# VI (FitConfig fields): the objectives each applies to; absent = all.
VI_APPLIES = {
    "analytic_kl": ("sgvb",),
    "anneal": ("sgvb",),
    "baseline": ("nvil",),
    "signals": ("nvil", "sgvb"),
    "particles": ("sgvb", "iwae", "vimco", "nvil", "rws"),
}
VI_NEEDS_VALID = ("valid_every", "valid_particles", "early_stop")
VI_AUTO_GUIDE = ("init", "init_scale")

# MCMC (SamplerConfig and SGMCMCConfig fields, by the CLI's names): the methods each applies to.
MCMC_APPLIES = {
    "max_depth": ("nuts",),
    "hmc_steps": ("hmc",),
    "metric": ("nuts", "hmc"),
    "target_accept": ("nuts", "hmc"),
    "cores": ("nuts", "hmc"),
    "chain_method": ("nuts", "hmc"),
    "device": ("nuts", "hmc"),
    "compile": ("nuts", "hmc"),
    "save_warmup": ("nuts", "hmc"),
    "init": ("nuts", "hmc", *_SG),
    "checkpoint_every": ("nuts", "hmc"),
    "lr": _SG,
    "schedule": _SG,
    "thin": _SG,
    "friction": ("sghmc", "sgnht"),
}
_FLAG = {"hmc_steps": "steps"}


def flag(name: str) -> str:
    return "--" + _FLAG.get(name, name).replace("_", "-")


def _refuse(name: str, engine: str, engines: tuple[str, ...]) -> None:
    raise OptionError(f"{flag(name)} applies to {', '.join(engines)}, not {engine}; leave it out.")


def check_vi_options(given: dict, infer: str, guide: str, validated: bool) -> None:
    """Refuse VI options that do not apply to ``infer`` with ``guide``."""
    for name in given:
        engines = VI_APPLIES.get(name)
        if engines is not None and infer not in engines:
            _refuse(name, infer, engines)
        if name in VI_NEEDS_VALID and not validated:
            raise OptionError(f"{flag(name)} needs validation data (--valid).")
        if name in VI_AUTO_GUIDE and not guide.startswith("auto-"):
            raise OptionError(f"{flag(name)} sets where an automatic guide starts; the guide '{guide}' is the "
                              "spec's own (its params are initialised as the spec says).")  # fmt: skip


def check_mcmc_options(given: dict, method: str) -> None:
    """Refuse sampler options that do not apply to ``method``."""
    for name in given:
        engines = MCMC_APPLIES.get(name)
        if engines is not None and method not in engines:
            _refuse(name, method, engines)
