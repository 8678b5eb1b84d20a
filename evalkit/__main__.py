"""``python -m evalkit`` is the ``evalkit`` command."""

from .cli.main import main

main()
