"""``save_model`` and ``load_model``: a fitted model <-> a verified, self-describing package.

``load_model`` takes a package folder. A registry URI (``models:/name/3``, ``models:/name@alias``)
is the registry's to resolve (a higher layer): ``mloop.load_model`` / ``mloop.registry.load_model``
resolve it once and hand this function the folder and the digest the registry recorded (ADR 0028).
"""

from __future__ import annotations

import importlib
import json
import shutil
import tempfile
import warnings
import weakref
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from mloop.errors import ModelCompatibilityError, ValidationError
from mloop.models.class_labels import ClassLabels, class_labels
from mloop.models.flavors import Flavor, flavor_by_name, flavor_for
from mloop.models.package import (
    Manifest,
    Signature,
    as_pandas,
    infer_signature,
    read_manifest,
    verify_package,
    write_manifest,
)

__all__ = [
    "MODEL_URI_SCHEME",
    "LoadedModel",
    "ModelCompatibilityWarning",
    "ModelPackage",
    "load_model",
    "open_package",
    "save_model",
]

MODEL_URI_SCHEME = "models:/"
EXAMPLE_NAME = "input_example.json"
EXPECTED_NAME = "expected_output.json"
"""The model's predictions on its input example when it was saved (a JSON list): what the
served model must still answer (the ``expected_outputs: input_example`` CD gate)."""


class ModelCompatibilityWarning(UserWarning):
    """The model was saved with another major version of its library; it may misbehave."""


class ModelPackage:
    """A saved package: its folder, manifest and digest. ``load()`` gives the runnable model.

    Packages handed between pipeline steps live in a private temporary copy that is removed when
    the object is garbage-collected (``owns_folder``)."""

    def __init__(self, path: Path, manifest: Manifest, *, owns_folder: bool = False) -> None:
        self.path = Path(path)
        self.manifest = manifest
        self._loaded: LoadedModel | None = None
        if owns_folder:
            weakref.finalize(self, shutil.rmtree, str(self.path), True)

    @property
    def digest(self) -> str:
        return self.manifest.digest

    @property
    def flavor(self) -> str:
        return self.manifest.flavor

    @property
    def signature(self) -> Signature | None:
        return self.manifest.signature

    def load(self, *, strict: bool = False) -> LoadedModel:
        """The model, loaded once (digest verified first)."""
        if self._loaded is None:
            self._loaded = _load_folder(self.path, None, strict=strict)
        return self._loaded

    def input_example(self) -> Any:
        """The input example saved with the package (a pandas frame), or None."""
        path = self.path / EXAMPLE_NAME
        if not path.is_file():
            return None
        import io

        import pandas as pd

        text = io.StringIO(path.read_text(encoding="utf-8"))
        return pd.read_json(text, orient="split", dtype=False)  # strings stay strings

    def expected_output(self) -> list[Any] | None:
        """The predictions the model gave on its input example when it was saved, or None
        (no example, or a package saved before they were recorded)."""
        path = self.path / EXPECTED_NAME
        if not path.is_file():
            return None
        return list(json.loads(path.read_text(encoding="utf-8")))

    def copy_to(self, folder: Path) -> ModelPackage:
        """Copy the package's files into ``folder`` (created or empty)."""
        shutil.copytree(self.path, folder, dirs_exist_ok=True)
        return ModelPackage(folder, self.manifest)

    def __repr__(self) -> str:
        return (
            f"ModelPackage({str(self.path)!r}, flavor={self.flavor!r}, digest={self.digest[:12]})"
        )


class LoadedModel:
    """A model ready to predict: inputs are checked and cast against the signature first.

    A classifier answers with its class labels as trained (``manifest.classes``), also when
    the native model predicts encoded ones (0/1 from a label-encoded or ``positive`` target)."""

    def __init__(self, native: Any, flavor: Flavor, manifest: Manifest) -> None:
        self.native = native
        self.flavor = flavor
        self.manifest = manifest
        self._labels = ClassLabels.of(manifest)

    @property
    def signature(self) -> Signature | None:
        return self.manifest.signature

    @property
    def digest(self) -> str:
        return self.manifest.digest

    @property
    def has_proba(self) -> bool:
        return self.flavor.has_proba(self.native, self.manifest.flavor_options)

    @property
    def classes(self) -> list[Any] | None:
        """The class labels in the order of ``predict_proba``'s columns (None: regressor)."""
        if self.manifest.classes is not None:
            return self.manifest.classes
        return self.manifest.flavor_options.get("classes")

    def to_labels(self, native_predictions: Any) -> Any:
        """Native predictions (what the flavor returns) as the class labels users know."""
        if self._labels is None:
            return native_predictions
        return self._labels.map(native_predictions)

    def prepare(self, data: Any) -> Any:
        """``data`` as a pandas frame with the signature's columns, in its order and dtypes;
        ``ValidationError`` names a missing column or a value that does not fit its dtype."""
        frame = as_pandas(data)
        signature = self.signature
        if signature is None:
            return frame
        missing = [c for c in signature.input_names if c not in frame.columns]
        if missing:
            raise ValidationError(
                f"input lacks the column(s) {missing} that the model's signature requires "
                f"(it has {list(frame.columns)})"
            )
        frame = frame[signature.input_names]
        casts = {}
        for spec in signature.inputs:
            if spec.dtype != "object" and str(frame[spec.name].dtype) != spec.dtype:
                casts[spec.name] = spec.dtype
        if casts:
            try:
                frame = frame.astype(casts)
            except (TypeError, ValueError) as exc:
                raise ValidationError(
                    f"input does not match the model's signature dtypes {casts}: {exc}"
                ) from exc
        return frame

    def predict(self, data: Any) -> Any:
        """Predictions as a numpy array (class labels for classifiers)."""
        native = self.flavor.predict(self.native, self.prepare(data), self.manifest.flavor_options)
        return self.to_labels(native)

    def predict_proba(self, data: Any) -> Any:
        """Class probabilities ``(rows, classes)``; ``ValidationError`` when the model has none."""
        out = self.flavor.predict_proba(
            self.native, self.prepare(data), self.manifest.flavor_options
        )
        if out is None:
            raise ValidationError(
                f"this {self.flavor.name} model has no predict_proba (it is not a classifier "
                "that gives probabilities); use predict"
            )
        return out

    def __repr__(self) -> str:
        return f"LoadedModel(flavor={self.flavor.name!r}, digest={self.digest[:12]})"


def save_model(
    model: Any,
    path: str | Path,
    *,
    input_example: Any = None,
    flavor: str | None = None,
    code_digest: str | None = None,
    flavor_options: Mapping[str, Any] | None = None,
    metadata: Mapping[str, Any] | None = None,
    nullable: Iterable[str] = (),
    classes: Any = None,
) -> ModelPackage:
    """Save ``model`` as a package in the new (or empty) folder ``path``.

    The signature is inferred from ``input_example`` (and the model's output on it); an input
    accepts missing values when the example holds one there or ``nullable`` names it (the
    columns with nulls in the full training data). ``classes`` gives a classifier's class
    labels when the model was fitted on encoded ones (a list in the order of the encoded
    classes 0, 1, ..., or a fitted ``LabelEncoder``); by default they are the model's own
    ``classes_``. ``code_digest`` names the code that trained it (the pipeline passes the
    step's digest).
    """
    folder = Path(path)
    if folder.exists() and any(folder.iterdir()):
        raise ValidationError(f"{folder} exists and is not empty; save a model into a new folder")
    chosen = flavor_by_name(flavor) if flavor else flavor_for(model)
    example = None if input_example is None else as_pandas(input_example)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        options = chosen.save(model, folder, example)
        options.update(flavor_options or {})
        labels = class_labels(classes, options.get("classes"))
        if example is not None:
            (folder / EXAMPLE_NAME).write_text(
                example.to_json(orient="split", index=False, date_format="iso"), encoding="utf-8"
            )
        signature = None
        if example is not None:
            bare = _bare(chosen, options, labels)
            loaded = LoadedModel(chosen.load(folder, options), chosen, bare)
            predicted = loaded.predict(example)
            signature = infer_signature(example, predicted, nullable=nullable)
            (folder / EXPECTED_NAME).write_text(_json_list(predicted), encoding="utf-8")
        manifest = write_manifest(
            folder,
            flavor=chosen.name,
            signature=signature,
            libraries={**chosen.libraries(), chosen.module: module_version(chosen) or ""},
            code_digest=code_digest,
            flavor_options=options,
            metadata=dict(metadata or {}),
            classes=labels,
        )
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return ModelPackage(folder, manifest)


def _json_list(predicted: Any) -> str:
    """Predictions as a JSON list (numpy scalars as numbers, anything else as its text)."""
    import numpy as np

    values = np.asarray(predicted)
    if values.ndim > 1 and values.shape[1:] == (1,) * (values.ndim - 1):
        values = values.reshape(len(values))
    return json.dumps(values.tolist(), default=str)


def _bare(flavor: Flavor, options: dict[str, Any], classes: list[Any] | None) -> Manifest:
    """A manifest stand-in used to call the model once before the real one is written."""
    return Manifest(flavor.name, None, {}, {}, "", flavor_options=options, classes=classes)


def open_package(path: str | Path, *, copy: bool = False) -> ModelPackage:
    """The package in ``path`` (manifest read, files verified); with ``copy``, a private
    temporary copy that lives as long as the returned object."""
    folder = Path(path)
    manifest = read_manifest(folder)
    verify_package(folder, manifest)
    if not copy:
        return ModelPackage(folder, manifest)
    private = Path(tempfile.mkdtemp(prefix="mloop-model-"))
    shutil.copytree(folder, private, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".mloop*"))
    return ModelPackage(private, manifest, owns_folder=True)


def load_model(
    path: str | Path, *, expected_digest: str | None = None, strict: bool = False
) -> LoadedModel:
    """Load the package in the folder ``path``.

    The package's SHA-256 (and ``expected_digest``, e.g. the digest the registry recorded) is
    verified before any file is deserialized. A different major version of the model's library
    warns (``ModelCompatibilityWarning``) or, with ``strict``, raises ``ModelCompatibilityError``.
    A ``models:/`` URI is refused with the call that loads it (``mloop.load_model``).
    """
    text = str(path)
    if text.startswith(MODEL_URI_SCHEME):
        raise ValidationError(
            f"mloop.models.load_model loads a package folder, and {text!r} is a registry URI; "
            f"load it with mloop.load_model({text!r}) (or mloop.registry.load_model), which "
            "resolves it once in the registry and checks the digest recorded there"
        )
    return _load_folder(Path(text), expected_digest, strict=strict)


def _load_folder(folder: Path, expected_digest: str | None, *, strict: bool) -> LoadedModel:
    if not folder.is_dir():
        raise ValidationError(
            f"no model package at {folder}; give a package folder (or load a models:/ URI "
            "with mloop.load_model)"
        )
    manifest = read_manifest(folder)
    verify_package(folder, manifest, expected_digest)
    flavor = flavor_by_name(manifest.flavor)
    check_library_versions(flavor, manifest, strict=strict)
    return LoadedModel(flavor.load(folder, manifest.flavor_options), flavor, manifest)


def check_library_versions(flavor: Flavor, manifest: Manifest, *, strict: bool = False) -> None:
    """Refuse a missing library; warn (or raise, ``strict``) on another major version.

    The manifest records the version of the flavor's module (``sklearn``, ``lightgbm``, ...) as
    it was imported when saving, whichever distribution provided it (``xgboost-cpu``...)."""
    saved = manifest.libraries.get(flavor.module)
    try:
        module = importlib.import_module(flavor.module)
    except ImportError as exc:
        hint = f"pip install 'mloop[{flavor.extra}]'" if flavor.extra else "install it"
        raise ModelCompatibilityError(
            f"the model needs the {flavor.module} library ({flavor.name} flavor, saved with "
            f"version {saved}), which is not installed; {hint}"
        ) from exc
    now = str(getattr(module, "__version__", ""))
    if saved and now and _major(now) != _major(saved):
        message = (
            f"the model was saved with {flavor.module} {saved} and is loaded with "
            f"{flavor.module} {now} (another major version); predictions may differ or loading "
            f"may fail. Install {flavor.module} {saved} or retrain the model"
        )
        if strict:
            raise ModelCompatibilityError(message)
        warnings.warn(message, ModelCompatibilityWarning, stacklevel=3)


def module_version(flavor: Flavor) -> str | None:
    """The version of the flavor's module, imported (saving needs it anyway)."""
    try:
        module = importlib.import_module(flavor.module)
    except ImportError:
        return None
    version = getattr(module, "__version__", None)
    return None if version is None else str(version)


def _major(version: str) -> str:
    return version.split(".", 1)[0]
