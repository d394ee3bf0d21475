"""``python -m aiflow`` is the ``aiflow`` command."""

from aiflow.cli.main import main

main()
