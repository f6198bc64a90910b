"""One module per ``mloop`` command group, each a Typer ``app`` that :mod:`mloop.cli.main` loads
by name when the command runs. The modules beside this package support them all."""
