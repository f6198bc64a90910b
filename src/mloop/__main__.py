"""``python -m mloop``: the same command line as ``mloop``."""

from __future__ import annotations

from mloop.cli.main import main

if __name__ == "__main__":
    main()
