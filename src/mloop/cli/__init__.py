"""The ``mloop`` command line: thin Typer commands over the library (layer L7).

Commands are registered lazily (see :mod:`mloop.cli.main`) so ``mloop --help`` imports no
data or database library.
"""
