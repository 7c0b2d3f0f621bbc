"""``CompiledModel``: the protocol the inference engines use, built from generated source.

It executes the emitted module (our own generated code, registered in ``linecache``
under a fake file name so tracebacks show generated lines), converts data to
tensors with the declared dtypes, and instantiates the model and its guides.
"""

from __future__ import annotations

import sys

import numpy as np
import torch

from zsdsl.runtime.generated import load_generated_module


class CompiledModel:
    """A compiled spec: generated module, model and guide classes, data preparation."""

    def __init__(self, source: str, file: str = "<spec>", ir=None, text: str | None = None, warnings=(),
                 gradient=None):  # fmt: skip
        self.source = source
        self.gradient = gradient  # the compiler's GradientProgram: NUTS's NumPy value-and-gradient code
        self.warnings = tuple(warnings)  # the checker's SpecWarnings (the CLI shows them)
        self.file = file
        self.ir = ir  # for tooling (graph, checks); engines use the methods below only
        self.text = text
        self.module = load_generated_module(source, file)
        self.model_class = self.module.MODEL_CLASS  # the generated module's exports (see emit_module)
        self.guide_classes = dict(self.module.GUIDE_CLASSES)
        self.critic_classes = dict(getattr(self.module, "CRITIC_CLASSES", {}))  # only specs with a critic block

    def __reduce__(self):
        # pickled (for a data-parallel run's spawned processes) as what it is built from: the
        # generated module is loaded again from its source in the new process
        return (CompiledModel, (self.source, self.file, self.ir, self.text, self.warnings, self.gradient))

    @property
    def name(self) -> str:
        """The model's name (``model NAME`` in the file)."""
        return self.model_class.name

    @property
    def guide_names(self) -> tuple[str, ...]:
        """The spec's ``guide NAME:`` blocks, in order (the first is ``fit``'s default guide)."""
        return tuple(self.guide_classes)

    def load_data(self, source, label: str | None = None, predicting: bool = False, mapped: bool = False) -> dict:
        """Data from files or a dict, checked against the spec's declarations (``DataError`` naming the
        field) and converted to tensors: the one path the CLI and the Python API share; ``None`` is no data.

        ``source`` is a dict, a pandas DataFrame (one field per column), or a string of comma-separated
        files (``PATH`` or ``PATH:SPLIT``) and ``NAME=VALUE`` settings, merged (``zsdsl.runtime.data``).
        Fields and CSV columns the model does not use are left out with a note on stderr. With
        ``predicting`` the observed fields may be missing (data to predict on). With ``mapped`` (a
        variational fit) a memory-mapped field stays on disk (``zsdsl.runtime.mapped``)."""
        from zsdsl.compiler.data_check import check_data
        from zsdsl.runtime.data import from_frame, load_sources, usable

        origins: list = []
        if source is None:
            raw, label = {}, label or "<no data>"
        elif isinstance(source, dict):
            raw, label = dict(source), label or "<data>"
        elif hasattr(source, "columns") and hasattr(source, "iloc"):
            raw, label = from_frame(source), label or "<DataFrame>"
        else:
            raw, origins = load_sources(str(source))
            label = label or str(source)
        used = set(self.model_class.data_dtypes) | self._size_names()
        raw, text = usable(raw, used)
        unused = sorted([*text, *(k for k in raw if k not in used and not k.startswith("_"))])
        if unused and any(".csv" in str(o) for o in origins):
            print(f"note: {label}: {', '.join(unused)} not used by the model (left out)", file=sys.stderr)
            raw = {k: v for k, v in raw.items() if k not in unused}
        if self.ir is not None:
            check_data(self.ir, raw, label, optional=self.model_class.observed if predicting else ())
        return self.prepare_data(raw, mapped)

    def _size_names(self) -> set:
        return {d.name for d in self.ir.dims} if self.ir is not None else set()

    def prepare_data(self, data: dict, mapped: bool = False) -> dict:
        """Convert data values to tensors: declared int fields to int64, real fields to the default float;
        with ``mapped`` a memory-mapped field stays on disk as a ``MappedField`` (``zsdsl.runtime.mapped``)."""
        from zsdsl.runtime.mapped import MappedField, is_mapped

        out = {}
        for key, value in data.items():
            dtype = self.model_class.data_dtypes.get(key)
            if dtype is None:
                out[key] = value
                continue
            arr = value.detach().cpu().numpy() if torch.is_tensor(value) else np.asarray(value)
            if mapped and is_mapped(arr):  # larger than memory: its minibatch rows are read when used
                out[key] = MappedField(key, arr, torch.int64 if dtype == "int" else torch.get_default_dtype())
            elif dtype == "int":
                out[key] = torch.as_tensor(np.asarray(arr).astype(np.int64))
            else:
                out[key] = torch.as_tensor(np.asarray(arr, dtype=np.float64)).to(torch.get_default_dtype())
        return out

    def bind_dims(self, data: dict) -> dict:
        """The model's sizes (constants, data scalars, axes of data fields) bound from ``data``."""
        return self.module.bind_dims(data)

    def model(self, data: dict, init_params: bool = True):
        """A new model module with sizes bound from ``data`` and parameters initialised (``init_params``
        False: left at zeros, for a fitted state loaded next: test data need not fit the params' initial
        values, e.g. ``Z = X[:M]`` on fewer than M test rows)."""
        model = self.model_class(self.bind_dims(data))
        model.gradient_program = self.gradient  # strings only: the model still pickles for chain processes
        if init_params:
            _init_params(model, data, "The params'")
        return model

    def fit(self, data=None, infer: str | None = None, guide: str | None = None, out=None, resume: bool = False,
            overwrite: bool = False, valid=None, data_label: str | None = None, **options):  # fmt: skip
        """Variational fit, e.g. ``fit(data, infer="iwae", particles=50, epochs=10)``; returns a ``FitResult``.

        ``data`` is a dict or a file (``PATH`` or ``PATH:SPLIT``), checked against the spec. ``options``
        are ``FitConfig`` fields; one that does not apply to ``infer`` is refused. With ``out`` the run
        directory is written as by ``zsdsl fit`` (refused if it holds another run, unless
        ``overwrite``); ``resume=True`` continues the run in ``out`` (same spec, data and fixed
        options; ``steps`` or ``epochs`` may extend it). ``valid`` (a dict or a file) scores the fit
        on held-out data and keeps the best parameters; with it, ``early_stop=K`` stops after K
        validations without a new best."""
        from zsdsl.errors import OptionError
        from zsdsl.runtime.adversarial import ADVERSARIAL, fit_adversarial

        if infer in ADVERSARIAL:
            if guide is not None or valid is not None:
                raise OptionError(f"--infer {infer} trains against a critic: {'guide' if guide else 'valid'}= does "
                                  "not apply (give critic= to choose the critic block).")  # fmt: skip
            return fit_adversarial(self, data, infer, options.pop("critic", None), out, resume, overwrite, data_label,
                                   options)  # fmt: skip
        from zsdsl.runtime.vi.session import fit_session

        return fit_session(self, data, infer, guide, out, resume, overwrite, valid, data_label, options)

    def sample(self, data=None, method: str | None = None, out=None, resume: bool = False, overwrite: bool = False,
               data_label: str | None = None, progress=None, **options):  # fmt: skip
        """Posterior draws by MCMC, e.g. ``sample(data, method="nuts", chains=4)``; returns an ``MCMCResult``
        (``.values()``, ``.summary()``, ``.to_inference_data()``). ``method`` is nuts or hmc (options as
        in ``SamplerConfig``), or sgld, psgld, sghmc, sgnht (options as in ``SGMCMCConfig``; ``warmup``
        is the burn-in). An option that does not apply to ``method`` is refused. With ``out`` the run
        directory is written as by ``zsdsl sample``; ``resume=True`` continues a NUTS/HMC run there."""
        from zsdsl.runtime.mcmc.session import sample_session

        return sample_session(self, data, method, out, resume, overwrite, data_label, progress, options)

    def prior(self, data=None, draws: int = 1000, seed: int = 0, data_label: str | None = None):
        """Prior and prior-predictive draws as ArviZ ``InferenceData`` (groups ``prior``,
        ``prior_predictive``, ``observed_data``, ``constant_data``); the observed fields of ``data``
        may be left out (they give sizes only)."""
        from zsdsl.errors import OptionError
        from zsdsl.runtime.posterior import inference_data
        from zsdsl.runtime.prior import prior_draws

        if draws < 1:
            raise OptionError(f"--draws must be at least 1, not {draws}.")
        torch.set_default_dtype(torch.float64)
        prepared = self.load_data(data, data_label, predicting=True)
        model = self.model(prepared)
        derived = prior_draws(model, prepared, draws, seed)
        return inference_data(model, prepared, None, prior=derived, attrs={"inference_library": "zsdsl"}), derived

    def gradient_path(self, data) -> tuple[str, str]:
        """How NUTS and HMC differentiate this model on ``data``: the backend (``numba``, ``numpy``, ``torch``) and
        why (the emitted code, checked against autograd; or the reason PyTorch autograd stays)."""
        from zsdsl.runtime.mcmc.potential import Potential

        prepared = self.load_data(data)  # checked against the spec, as for sample
        potential = Potential(self.model(prepared), prepared)
        return potential.backend, potential.backend_reason

    def critic(self, name: str, data: dict):
        """A new module of the spec's ``critic NAME:`` block, sizes bound from ``data``."""
        critic = self.critic_classes[name](self.bind_dims(data))
        _init_params(critic, data, f"Critic '{name}': its params'")
        return critic

    def guide(self, name: str, data: dict, init_params: bool = True):
        """A new module of the spec's guide ``name``, sizes bound from ``data`` and parameters initialised
        (``init_params`` False: left at zeros, as for ``model``)."""
        if name not in self.guide_classes:
            known = ", ".join(self.guide_classes) or "none"
            raise KeyError(f"no guide named {name!r} (the spec defines: {known})")
        guide = self.guide_classes[name](self.bind_dims(data))
        if init_params:
            _init_params(guide, data, f"Guide '{name}': its params'")
        return guide


def _init_params(module, data: dict, whose: str) -> None:
    """Set a model's or guide's params from their declared initial values; one the data cannot give
    (``Z = X[:M]`` on fewer than M rows) is a DataError naming the block, not torch's traceback."""
    if not hasattr(module, "init_params"):
        return
    try:
        module.init_params(data)
    except (RuntimeError, IndexError) as err:  # a shape the data cannot give (torch's own words)
        from zsdsl.errors import DataError

        raise DataError(f"{whose} initial values (params: ... = EXPR) cannot be computed from this data: "
                        f"{err}") from None  # fmt: skip
