"""Ending a child process this code started: terminate, then kill after a grace period."""

from __future__ import annotations

import subprocess

__all__ = ["stop_child"]


def stop_child(proc: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
    """End ``proc`` if it still runs: SIGTERM, then SIGKILL after ``grace_s`` seconds."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=grace_s)
