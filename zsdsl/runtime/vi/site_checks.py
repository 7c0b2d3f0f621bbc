"""What an automatic guide needs of a latent site (shared by the Gaussian and the flow guides)."""

from __future__ import annotations

from zsdsl.errors import ModelError


def require_global_continuous(site, guide: str) -> None:
    if site.discrete:
        raise ModelError(
            f"The latent '{site.name}' is discrete; {guide} covers continuous latents only. "
            "Write a guide block for it (nvil, vimco or rws estimate its gradient) or mark it 'enumerate'."
        )
    if site.subsample_plate is not None:
        raise ModelError(
            f"The latent '{site.name}' is local to the subsampled plate '{site.subsample_plate}'; it needs an "
            "amortized guide (a guide block with an encoder net) rather than " + guide + "."
        )
    if site.bijector is None:
        raise ModelError(f"The latent '{site.name}' has no transform to unconstrained space.")
