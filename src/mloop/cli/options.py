"""Options that many commands share, declared once so that their flags and help agree."""

from __future__ import annotations

from typing import Annotated

import typer

__all__ = ["EnvOption", "JsonOption"]

JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
EnvOption = Annotated[
    str | None, typer.Option("--env", help="Environment of mloop.yaml (overrides global).")
]
