"""The data schema: what each feature must look like, inferred from statistics, edited as YAML.

As in TFDV, a schema is inferred once from trusted (training) data, reviewed and edited by a
person, and kept in version control; :func:`~mloop.data.validation.validate` then checks new
statistics against it. Environments say which features each kind of data carries (the label is
in TRAINING data but not in SERVING requests).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mloop.data.types import CATEGORICAL, NUMERIC, Statistics
from mloop.errors import ValidationError

__all__ = [
    "DRIFT_METHODS",
    "MAX_VOCABULARY",
    "DriftConfig",
    "FeatureSchema",
    "Schema",
    "infer_schema",
]

MAX_VOCABULARY = 200  # distinct values up to which a string column gets a vocabulary
DOMAIN_MARGIN = 1.0  # inferred numeric domains are widened by this fraction of the range per side
PRESENCE_MARGIN = 0.02  # inferred minimum presence = observed presence minus this
DRIFT_METHODS = ("psi", "jensen_shannon", "wasserstein", "ks", "linf", "chi2")
_SCHEMA_VERSION = 1


@dataclass
class DriftConfig:
    """Per-feature drift override: ``method`` (one of :data:`DRIFT_METHODS`), ``threshold``
    (replaces the method's default floor), ``blocking`` (a drift anomaly is an error)."""

    method: str | None = None
    threshold: float | None = None
    blocking: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in vars(self).items() if v not in (None, False)}


@dataclass
class FeatureSchema:
    """One feature's rules. ``kind``: numeric, categorical, datetime or other; ``dtype``: the
    frame's dtype seen at inference; ``min_presence``: required fraction of non-null rows;
    ``domain``: ``[min, max]`` for numbers (``None``: any); ``vocabulary``: allowed values
    (``None``: any) of which at most ``max_unseen_fraction`` of rows may fall outside;
    ``not_in_environments``: environments where the feature is absent."""

    name: str
    kind: str
    dtype: str | None = None
    min_presence: float = 1.0
    domain: tuple[float, float] | None = None
    vocabulary: list[str] | None = None
    max_unseen_fraction: float = 0.01
    max_out_of_domain_fraction: float = 0.01
    not_in_environments: list[str] = field(default_factory=list)
    drift: DriftConfig = field(default_factory=DriftConfig)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "kind": self.kind,
            "dtype": self.dtype,
            "min_presence": self.min_presence,
        }
        if self.domain is not None:
            out["domain"] = {"min": self.domain[0], "max": self.domain[1]}
            out["max_out_of_domain_fraction"] = self.max_out_of_domain_fraction
        if self.vocabulary is not None:
            out["vocabulary"] = list(self.vocabulary)
            out["max_unseen_fraction"] = self.max_unseen_fraction
        if self.not_in_environments:
            out["not_in_environments"] = list(self.not_in_environments)
        drift = self.drift.to_dict()
        if drift:
            out["drift"] = drift
        return out

    @classmethod
    def from_dict(cls, name: str, d: dict[str, Any]) -> FeatureSchema:
        where = f"schema feature {name!r}"
        if not isinstance(d, dict):
            raise ValidationError(f"{where}: expected a mapping, got {type(d).__name__}")
        unknown = set(d) - {
            "kind",
            "dtype",
            "min_presence",
            "domain",
            "vocabulary",
            "max_unseen_fraction",
            "max_out_of_domain_fraction",
            "not_in_environments",
            "drift",
        }
        if unknown:
            raise ValidationError(f"{where}: unknown keys {sorted(unknown)}; check the spelling")
        domain = d.get("domain")
        if domain is not None:
            try:
                domain = (float(domain["min"]), float(domain["max"]))
            except (KeyError, TypeError, ValueError):
                raise ValidationError(
                    f"{where}: domain must be {{min: number, max: number}}"
                ) from None
            if domain[0] > domain[1]:
                raise ValidationError(f"{where}: domain min {domain[0]} is above max {domain[1]}")
        drift = d.get("drift") or {}
        if not isinstance(drift, dict):
            raise ValidationError(f"{where}: drift must be a mapping (method, threshold, blocking)")
        method = drift.get("method")
        if method is not None and method not in DRIFT_METHODS:
            raise ValidationError(
                f"{where}: drift method {method!r} unknown; use one of {list(DRIFT_METHODS)}"
            )
        presence = float(d.get("min_presence", 1.0))
        if not 0.0 <= presence <= 1.0:
            raise ValidationError(f"{where}: min_presence must be within [0, 1], got {presence}")
        vocabulary = d.get("vocabulary")
        return cls(
            name=name,
            kind=str(d.get("kind", "other")),
            dtype=d.get("dtype"),
            min_presence=presence,
            domain=domain,
            vocabulary=[str(v) for v in vocabulary] if vocabulary is not None else None,
            max_unseen_fraction=float(d.get("max_unseen_fraction", 0.01)),
            max_out_of_domain_fraction=float(d.get("max_out_of_domain_fraction", 0.01)),
            not_in_environments=[str(e) for e in d.get("not_in_environments") or []],
            drift=DriftConfig(
                method=method,
                threshold=float(drift["threshold"]) if drift.get("threshold") is not None else None,
                blocking=bool(drift.get("blocking", False)),
            ),
        )


@dataclass
class Schema:
    """Features by name, the known ``environments`` and the minimum number of rows."""

    features: dict[str, FeatureSchema] = field(default_factory=dict)
    environments: list[str] = field(default_factory=list)
    min_rows: int = 1

    def __getitem__(self, name: str) -> FeatureSchema:
        try:
            return self.features[name]
        except KeyError:
            raise ValidationError(
                f"schema has no feature {name!r}; features: {sorted(self.features)}"
            ) from None

    def expected_in(self, environment: str | None) -> dict[str, FeatureSchema]:
        """Features expected in ``environment`` (all features when ``None``)."""
        if environment is not None and self.environments and environment not in self.environments:
            raise ValidationError(
                f"environment {environment!r} is not in the schema; use one of {self.environments}"
            )
        return {
            n: f
            for n, f in self.features.items()
            if environment is None or environment not in f.not_in_environments
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": _SCHEMA_VERSION,
            "min_rows": self.min_rows,
            "environments": list(self.environments),
            "features": {n: f.to_dict() for n, f in self.features.items()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Schema:
        if not isinstance(d, dict) or not isinstance(d.get("features"), dict):
            raise ValidationError("not a schema: expected a mapping with a 'features' mapping")
        return cls(
            features={str(n): FeatureSchema.from_dict(str(n), f) for n, f in d["features"].items()},
            environments=[str(e) for e in d.get("environments") or []],
            min_rows=int(d.get("min_rows", 1)),
        )

    def to_yaml(self, path: str | Path | None = None) -> str:
        """The schema as YAML text (also written to ``path`` when given)."""
        import yaml

        text = _HEADER + yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)
        if path is not None:
            Path(path).write_text(text, encoding="utf-8")
        return text

    @classmethod
    def from_yaml(cls, text_or_path: str | Path) -> Schema:
        """A schema from YAML text or from a ``.yaml``/``.yml`` file path."""
        import yaml

        text = str(text_or_path)
        if isinstance(text_or_path, Path) or (
            "\n" not in text and text.endswith((".yaml", ".yml"))
        ):
            path = Path(text_or_path)
            if not path.exists():
                raise ValidationError(
                    f"schema file {path} does not exist; create it with 'mloop data schema'"
                )
            text = path.read_text(encoding="utf-8")
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ValidationError(f"schema YAML cannot be parsed: {exc}") from None
        return cls.from_dict(data)

    def to_json(self) -> str:
        import json

        return json.dumps(self.to_dict())

    @classmethod
    def from_json(cls, text: str) -> Schema:
        import json

        return cls.from_dict(json.loads(text))


_HEADER = """\
# mloop data schema: inferred by infer_schema(); review and edit it, then keep it in git.
# Per feature: kind, min_presence (fraction of rows with a value), domain (numbers),
# vocabulary + max_unseen_fraction (strings), not_in_environments (e.g. [SERVING] for the label),
# drift: {method: psi|jensen_shannon|wasserstein|ks|linf|chi2, threshold: number, blocking: bool}.
"""


def infer_schema(
    stats: Statistics | Any,
    *,
    label: str | None = None,
    max_vocabulary: int = MAX_VOCABULARY,
) -> Schema:
    """A schema that ``stats`` satisfy, with tolerances so that fresh data like it passes too.

    Presence is required at the observed fraction minus 2 points (so a never-null column may
    miss a value now and then, but not 2 % of them);
    numeric domains are the observed range widened by its own width per side (a non-negative
    column stays non-negative); string columns with at most ``max_vocabulary`` distinct values
    (fewer than half their rows) get that vocabulary. ``label`` marks a column absent from
    SERVING data. ``stats`` may also be a frame or a Parquet/CSV path (profiled first).
    """
    from mloop.data.statistics import as_statistics

    stats = as_statistics(stats, "infer_schema's input")
    features: dict[str, FeatureSchema] = {}
    for name, f in stats.features.items():
        presence = f.presence
        required = max(0.0, round(presence - PRESENCE_MARGIN, 4))
        schema = FeatureSchema(name=name, kind=f.kind, dtype=f.dtype, min_presence=required)
        if f.kind == NUMERIC and f.numeric is not None and f.numeric.count:
            lo, hi = f.numeric.min, f.numeric.max
            margin = (hi - lo) * DOMAIN_MARGIN
            low = lo - margin
            if lo >= 0 and low < 0:
                low = 0.0
            schema.domain = (_round(low, math.floor), _round(hi + margin, math.ceil))
        cat = f.categorical
        if (
            f.kind == CATEGORICAL
            and cat is not None
            and cat.exact
            and 0 < len(cat.frequencies) <= max_vocabulary
            and len(cat.frequencies) <= max(2, f.present // 2)
        ):
            schema.vocabulary = sorted(cat.frequencies)
        if label is not None and name == label:
            schema.not_in_environments = ["SERVING"]
        features[name] = schema
    if label is not None and label not in features:
        raise ValidationError(f"label {label!r} is not a column; columns: {sorted(features)}")
    return Schema(
        features=features,
        environments=["TRAINING", "SERVING"] if label is not None else [],
        min_rows=1,
    )


def _round(x: float, how: Any) -> float:
    """``x`` rounded outwards to 4 significant digits, so domains read well in YAML."""
    if x == 0 or not math.isfinite(x):
        return float(x)
    scale = 10 ** (math.floor(math.log10(abs(x))) - 3)
    return float(how(x / scale) * scale)
