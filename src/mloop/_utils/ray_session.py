"""One way to reach Ray for mloop's distributed data work (statistics, batch prediction,
monitoring): imported only when asked for, since Ray is the optional ``mloop[ray]`` extra."""

from __future__ import annotations

from typing import Any

from mloop.errors import ConfigError

__all__ = ["connected_ray"]


def connected_ray(address: str | None = None, *, needs: str, data: bool = False) -> Any:
    """``ray``, connected to ``address`` (or a local instance when none is running).

    ``needs`` names what asked for it, for the error when Ray is missing; ``data``: Ray Data
    too (an extra of Ray)."""
    try:
        import ray

        if data:
            import ray.data
    except ImportError as exc:
        raise ConfigError(
            f"{needs} needs Ray{' Data' if data else ''}: pip install 'mloop[ray]'"
        ) from exc
    if not ray.is_initialized():
        ray.init(address=address, namespace="mloop", log_to_driver=False)
    return ray
