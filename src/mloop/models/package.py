"""What a model package is on disk: a folder with the model's files and ``mloop-model.json``.

The manifest records the flavor that wrote the model, the input and output signature inferred from
an input example (with which inputs accept missing values), a classifier's class labels, the
versions of the libraries the model needs, the digest of the code that trained it, and the SHA-256
of every file. The package digest is the SHA-256 over the sorted ``(path, file digest)`` pairs and
the manifest fields that decide loading and answers (flavor, its options, signature, class labels,
format version): it names the model's bytes and how they load, and is checked before anything is
deserialized (some flavors unpickle, and unpickling runs code). Fields added later (nullability,
class labels) join the digest only when recorded, so an older package keeps its digest.
"""

from __future__ import annotations

import hashlib
import json
import platform
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mloop._utils.clock import utc_now
from mloop.errors import IntegrityError, ValidationError

__all__ = [
    "MANIFEST_NAME",
    "ColumnSpec",
    "Manifest",
    "Signature",
    "file_digests",
    "infer_signature",
    "package_digest",
    "read_manifest",
    "verify_package",
    "write_manifest",
]

MANIFEST_NAME = "mloop-model.json"
FORMAT_VERSION = 1


@dataclass(frozen=True)
class ColumnSpec:
    """One named input or output: ``dtype`` is a numpy/pandas dtype name (``float64``,
    ``int64``, ``bool``, ``object`` for strings), ``shape`` uses -1 for the row dimension.

    ``nullable`` says whether the model accepts a missing value (null/NaN) in this column:
    True when the input example (or, in the ``train`` component, the training data) held one,
    False when it held none, None when unknown (packages saved before mloop recorded it)."""

    name: str
    dtype: str
    shape: tuple[int, ...] = (-1,)
    nullable: bool | None = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"name": self.name, "dtype": self.dtype, "shape": list(self.shape)}
        if self.nullable is not None:  # absent when unknown: older packages keep their digest
            data["nullable"] = self.nullable
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ColumnSpec:
        nullable = data.get("nullable")
        return cls(
            data["name"],
            data["dtype"],
            tuple(data.get("shape", (-1,))),
            None if nullable is None else bool(nullable),
        )


@dataclass(frozen=True)
class Signature:
    """Inputs (one column each) and outputs of a model, inferred from an example."""

    inputs: tuple[ColumnSpec, ...]
    outputs: tuple[ColumnSpec, ...] = ()

    @property
    def input_names(self) -> list[str]:
        return [c.name for c in self.inputs]

    @property
    def nullable_inputs(self) -> list[str]:
        """The inputs that accept a missing value (``nullable`` True)."""
        return [c.name for c in self.inputs if c.nullable]

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": [c.to_dict() for c in self.inputs],
            "outputs": [c.to_dict() for c in self.outputs],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Signature:
        def specs(items: list[dict[str, Any]]) -> tuple[ColumnSpec, ...]:
            return tuple(ColumnSpec.from_dict(i) for i in items)

        return cls(specs(data.get("inputs", [])), specs(data.get("outputs", [])))


def _dtype_name(dtype: Any) -> str:
    name = str(dtype)
    if name in ("string", "str", "category") or name.startswith("string"):
        return "object"
    return name


def infer_signature(example: Any, output: Any = None, *, nullable: Iterable[str] = ()) -> Signature:
    """The signature of ``example`` (pandas or Polars frame, dict of columns, or 2-D array) and,
    when given, of the model's ``output`` on it. An input is nullable when the example holds a
    missing value in it or when it is named in ``nullable`` (e.g. the columns that held one in
    the full training data, of which the example is only the first rows)."""
    frame = as_pandas(example)
    known = {str(c) for c in nullable}
    missing = frame.isna().any()
    inputs = tuple(
        ColumnSpec(
            str(c),
            _dtype_name(frame[c].dtype),
            nullable=bool(missing[c]) or str(c) in known,
        )
        for c in frame.columns
    )
    outputs: tuple[ColumnSpec, ...] = ()
    if output is not None:
        import numpy as np

        arr = np.asarray(output)
        shape = (-1, *arr.shape[1:])
        outputs = (ColumnSpec("predict", _dtype_name(arr.dtype), tuple(int(s) for s in shape)),)
    return Signature(inputs, outputs)


def as_pandas(data: Any) -> Any:
    """A pandas DataFrame from a pandas/Polars frame, a dict of columns or a 2-D array."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if type(data).__module__.startswith("polars"):
        return data.to_pandas()
    if isinstance(data, dict):
        return pd.DataFrame(data)
    import numpy as np

    arr = np.asarray(data)
    if arr.ndim != 2:
        raise ValidationError(
            f"an input example must be a frame or a 2-D array, got shape {arr.shape}; "
            "pass a pandas or Polars DataFrame"
        )
    return pd.DataFrame(arr, columns=[f"f{i}" for i in range(arr.shape[1])])


@dataclass(frozen=True)
class Manifest:
    """The contents of ``mloop-model.json``; ``files`` maps relative path -> SHA-256."""

    flavor: str
    signature: Signature | None
    libraries: dict[str, str]
    files: dict[str, str]
    digest: str
    code_digest: str | None = None
    created_at: str = ""
    python: str = ""
    flavor_options: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    classes: list[Any] | None = None
    """A classifier's class labels as its training labels had them (``["bad", "good"]``), in
    the order of its ``predict_proba`` columns; None for regressors and older packages."""

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["signature"] = None if self.signature is None else self.signature.to_dict()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Manifest:
        sig = data.get("signature")
        return cls(
            flavor=data["flavor"],
            signature=None if sig is None else Signature.from_dict(sig),
            libraries=dict(data.get("libraries", {})),
            files=dict(data["files"]),
            digest=data["digest"],
            code_digest=data.get("code_digest"),
            created_at=data.get("created_at", ""),
            python=data.get("python", ""),
            flavor_options=dict(data.get("flavor_options", {})),
            metadata=dict(data.get("metadata", {})),
            format_version=int(data.get("format_version", FORMAT_VERSION)),
            classes=None if data.get("classes") is None else list(data["classes"]),
        )


def file_digests(folder: Path) -> dict[str, str]:
    """Relative POSIX path -> SHA-256 of every file under ``folder`` except the manifest."""
    out: dict[str, str] = {}
    for path in sorted(folder.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(folder).as_posix()
        if rel == MANIFEST_NAME or rel.startswith(".mloop"):  # the artifact store's marker
            continue
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        out[rel] = h.hexdigest()
    return out


def package_digest(files: dict[str, str], loading: dict[str, Any] | None = None) -> str:
    """SHA-256 over the sorted ``path\\0digest\\n`` lines, then the canonical JSON of
    ``loading`` (the manifest fields that decide how the files are loaded): the package's
    identity. An edit to a file or to how it is loaded changes it."""
    h = hashlib.sha256()
    for rel in sorted(files):
        h.update(f"{rel}\0{files[rel]}\n".encode())
    if loading:
        h.update(json.dumps(loading, sort_keys=True, default=str).encode())
    return h.hexdigest()


def _loading_fields(
    flavor: str,
    flavor_options: dict[str, Any],
    signature: Signature | None,
    format_version: int,
    classes: list[Any] | None = None,
) -> dict[str, Any]:
    """What of the manifest changes how a package loads, what it accepts and what it answers.
    ``classes`` joins only when recorded, so that older packages keep their digest."""
    fields: dict[str, Any] = {
        "flavor": flavor,
        "flavor_options": flavor_options,
        "signature": None if signature is None else signature.to_dict(),
        "format_version": format_version,
    }
    if classes is not None:
        fields["classes"] = classes
    return fields


def write_manifest(
    folder: Path,
    *,
    flavor: str,
    signature: Signature | None,
    libraries: dict[str, str],
    code_digest: str | None,
    flavor_options: dict[str, Any],
    metadata: dict[str, Any],
    classes: list[Any] | None = None,
) -> Manifest:
    """Hash the files the flavor wrote and write the manifest beside them."""
    files = file_digests(folder)
    manifest = Manifest(
        flavor=flavor,
        signature=signature,
        libraries=libraries,
        files=files,
        digest=package_digest(
            files, _loading_fields(flavor, flavor_options, signature, FORMAT_VERSION, classes)
        ),
        code_digest=code_digest,
        created_at=utc_now().isoformat(),
        python=platform.python_version(),
        flavor_options=flavor_options,
        metadata=metadata,
        classes=classes,
    )
    text = json.dumps(manifest.to_dict(), indent=2, sort_keys=True, default=str)
    (folder / MANIFEST_NAME).write_text(text + "\n", encoding="utf-8")
    return manifest


def read_manifest(folder: Path) -> Manifest:
    path = folder / MANIFEST_NAME
    if not path.is_file():
        raise ValidationError(
            f"{folder} is not a model package (no {MANIFEST_NAME}); save one with "
            "mloop.models.save_model(model, path, input_example=...)"
        )
    try:
        return Manifest.from_dict(json.loads(path.read_text(encoding="utf-8")))
    except (KeyError, TypeError, ValueError) as exc:
        raise ValidationError(f"{path} is not a valid model manifest: {exc}") from exc


def verify_package(folder: Path, manifest: Manifest, expected_digest: str | None = None) -> None:
    """Raise ``IntegrityError`` unless the files on disk are exactly the ones the manifest (and
    ``expected_digest``, e.g. from the registry) describe. Runs before any deserialization."""
    actual_files = file_digests(folder)
    loading = _loading_fields(
        manifest.flavor,
        manifest.flavor_options,
        manifest.signature,
        manifest.format_version,
        manifest.classes,
    )
    actual = package_digest(actual_files, loading)
    if actual != manifest.digest or actual_files != manifest.files:
        raise IntegrityError(str(folder), manifest.digest, actual)
    if expected_digest is not None and expected_digest != actual:
        raise IntegrityError(str(folder), expected_digest, actual)
