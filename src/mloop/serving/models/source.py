"""A model as the service holds it: the loaded package plus what the wire needs to know.

``load_served_model`` resolves a ``models:/`` URI once in the registry (pinning an alias to one
version, so the name and version the service reports are the ones it really loaded) and loads
that version's package through the registry, which checks the digest it recorded before anything
is deserialized; a package folder goes to :func:`mloop.models.load_model` directly.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from mloop.errors import MloopError, ModelLoadError, ValidationError
from mloop.serving.signature_check import Columns, InputSpec, spec_from_signature

__all__ = ["ServedModel", "load_failure", "load_served_model", "resolve_alias_version"]

MODELS_SCHEME = "models:/"


@dataclass(frozen=True)
class ServedModel:
    """A loaded model: ``name`` is the registered name (or the package folder's name),
    ``version`` the registry version (None for a bare package), ``digest`` its SHA-256."""

    name: str
    version: str | None
    uri: str
    digest: str
    flavor: str
    spec: InputSpec
    has_proba: bool
    loaded: Any
    output_dtype: str = ""

    @property
    def classes(self) -> list[Any] | None:
        """The class labels, in the order of the probability columns (None: no classes)."""
        return self.loaded.classes if self.has_proba else None

    @property
    def version_label(self) -> str:
        """The version for logs and metrics: the registry's, else the digest's first 12."""
        return self.version if self.version is not None else self.digest[:12]

    def predict(self, columns: Columns, want_proba: bool) -> tuple[np.ndarray, np.ndarray | None]:
        """Predictions (and probabilities when asked and available) for checked columns."""
        import pandas as pd

        frame = pd.DataFrame(columns, copy=False)
        loaded = self.loaded
        options = loaded.manifest.flavor_options
        native = loaded.flavor.predict(loaded.native, frame, options)
        predictions = np.asarray(loaded.to_labels(native))
        proba = None
        if want_proba and self.has_proba:
            proba = np.asarray(loaded.flavor.predict_proba(loaded.native, frame, options))
        return predictions, proba


def load_served_model(
    uri: str,
    *,
    allow_nan: bool = False,
    resolve: Any = None,
    version: Any = None,
    signature: Any = None,
    entity_keys: tuple[str, ...] = (),
) -> ServedModel:
    """Load ``uri`` (a package folder or ``models:/``) for serving.

    ``resolve(uri) -> ModelVersion`` pins the URI to a version (default: the registry), whose
    recorded digest the package must match (``IntegrityError`` otherwise); ``version`` is an
    already resolved ``ModelVersion`` (batch workers get the driver's, so nothing is re-read);
    ``signature`` overrides the package's (for a package saved without an input example).
    """
    if uri.startswith(MODELS_SCHEME):
        from mloop.serving.models import registry_access

        found = version or (resolve or registry_access.resolve)(uri)  # pin alias / "latest"
        name, pinned = found.name, str(found.version)
        loaded = registry_access.load(found)
    else:
        from mloop.models import load_model

        folder = Path(uri).expanduser().resolve()
        loaded = load_model(folder)
        name, pinned = folder.name, None
    sig = signature or loaded.signature
    if sig is None:
        raise ValidationError(
            f"the model at {uri} has no signature, so the service cannot check its input; "
            "save it with mloop.models.save_model(model, path, input_example=frame)"
        )
    return ServedModel(
        name=name,
        version=pinned,
        uri=uri,
        digest=loaded.digest,
        flavor=loaded.flavor.name,
        spec=replace(spec_from_signature(sig, allow_nan=allow_nan), entity_keys=entity_keys),
        has_proba=bool(loaded.has_proba),
        loaded=loaded,
        output_dtype=sig.outputs[0].dtype if sig.outputs else "",
    )


def resolve_alias_version(uri: str) -> str | None:
    """The version ``models:/name@alias`` points at now (one indexed read); None for URIs
    that name no alias."""
    if not uri.startswith(MODELS_SCHEME):
        return None
    from mloop.registry.uris import parse_model_uri

    parsed = parse_model_uri(uri)
    if parsed.alias is None:
        return None
    from mloop.serving.models.registry_access import alias_version

    return str(alias_version(parsed.name, parsed.alias))


def load_failure(uri: str, exc: BaseException) -> ModelLoadError:
    """The one-line error for a model that could not be found or loaded: mloop's own errors
    already say what to do; anything else (unpickling a class that is not importable, a
    library that fails) gets the advice to load it where it was saved."""
    if isinstance(exc, ModelLoadError):
        return exc
    if isinstance(exc, MloopError):
        reason = str(exc)
    else:
        reason = (
            f"{type(exc).__name__}: {exc}; the package needs the code and libraries it was "
            "saved with: install them here, or retrain and register it again"
        )
    text = " ".join(reason.split())  # one line, whatever the cause's message looked like
    return ModelLoadError(f"cannot serve {uri}: {text}", uri=uri)
