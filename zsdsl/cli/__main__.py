"""``python -m zsdsl.cli``."""

from zsdsl.cli import main

main()
