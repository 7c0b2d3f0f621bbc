"""Front ends: the ``.zs`` text grammar and the ``.zs.yaml`` form, both producing ``zsdsl.grammar.ast``."""

from zsdsl.grammar.parser import parse_spec

__all__ = ["parse_spec"]
