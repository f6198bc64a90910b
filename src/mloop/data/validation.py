"""``validate``: check statistics against a schema and list the anomalies (schema skew).

Each :class:`Anomaly` names the column, its kind, a severity (``error`` blocks a pipeline,
``warning`` does not) and a reason that says what was seen, what was expected and what to do.
With ``reference=`` the features' drift against reference statistics is checked too
(training-serving skew), as warnings unless the schema marks a feature's drift as blocking.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mloop.data.schema import FeatureSchema, Schema
from mloop.data.types import CATEGORICAL, NUMERIC, FeatureStatistics, Statistics
from mloop.errors import ValidationError

__all__ = ["ERROR", "KINDS", "WARNING", "Anomalies", "Anomaly", "validate"]

ERROR, WARNING = "error", "warning"
KINDS = (
    "empty_data",
    "missing_column",
    "unexpected_column",
    "type_change",
    "too_many_nulls",
    "out_of_domain",
    "unseen_categories",
    "drift",
)


@dataclass(frozen=True)
class Anomaly:
    """One finding: ``column`` (``None`` for the whole dataset), ``kind`` (one of
    :data:`KINDS`), ``severity`` (``error`` or ``warning``) and an actionable ``reason``."""

    column: str | None
    kind: str
    severity: str
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "column": self.column,
            "kind": self.kind,
            "severity": self.severity,
            "reason": self.reason,
        }


@dataclass
class Anomalies:
    """The anomalies found; ``blocking`` is true when any is an error."""

    items: list[Anomaly] = field(default_factory=list)
    environment: str | None = None

    def __iter__(self) -> Iterator[Anomaly]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def errors(self) -> list[Anomaly]:
        return [a for a in self.items if a.severity == ERROR]

    @property
    def warnings(self) -> list[Anomaly]:
        return [a for a in self.items if a.severity == WARNING]

    @property
    def blocking(self) -> bool:
        return bool(self.errors)

    def for_column(self, column: str) -> list[Anomaly]:
        return [a for a in self.items if a.column == column]

    def to_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "blocking": self.blocking,
            "items": [a.to_dict() for a in self.items],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Anomalies:
        return cls(
            items=[Anomaly(**item) for item in d.get("items", [])],
            environment=d.get("environment"),
        )

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(self.to_dict(), indent=indent)

    @classmethod
    def from_json(cls, text: str) -> Anomalies:
        return cls.from_dict(json.loads(text))


def validate(
    stats: Statistics | Any,
    schema: Schema | str | Path,
    environment: str | None = None,
    *,
    reference: Statistics | Any | None = None,
) -> Anomalies:
    """Anomalies of ``stats`` against ``schema`` in ``environment`` (``None``: every feature
    expected); with ``reference``, drifted features are reported too. ``stats`` and
    ``reference`` may be frames or Parquet/CSV paths (profiled once here), ``schema`` a
    schema YAML file."""
    from mloop.data.statistics import as_statistics

    stats = as_statistics(stats, "validate's data")
    if reference is not None:
        reference = as_statistics(reference, "validate's reference")
    if isinstance(schema, (str, Path)):
        schema = Schema.from_yaml(Path(schema))
    if not isinstance(schema, Schema):
        raise ValidationError(f"validate needs a Schema, got {type(schema).__name__}")
    expected = schema.expected_in(environment)
    items: list[Anomaly] = []
    if stats.num_rows < schema.min_rows:
        items.append(
            Anomaly(
                None,
                "empty_data",
                ERROR,
                f"the data has {stats.num_rows} rows, fewer than the schema's min_rows "
                f"({schema.min_rows}); check that the input path or query selects the right data",
            )
        )
    for name, feature in expected.items():
        if name not in stats.features:
            items.append(_missing(name, feature, environment))
            continue
        if stats.num_rows:
            items.extend(_check_feature(stats.features[name], feature))
    for name in stats.features:
        if name in schema.features and name not in expected:
            items.append(
                Anomaly(
                    name,
                    "unexpected_column",
                    WARNING,
                    f"{name!r} is declared absent from {environment} data "
                    "(not_in_environments) but "
                    "is present; drop it here (a label in serving data leaks the answer)",
                )
            )
        elif name not in schema.features:
            items.append(
                Anomaly(
                    name,
                    "unexpected_column",
                    WARNING,
                    f"column {name!r} is not in the schema; add it to the schema if it is a new "
                    "feature, or drop it upstream",
                )
            )
    if reference is not None and stats.num_rows:
        items.extend(_drift_anomalies(reference, stats, schema, expected))
    return Anomalies(items=items, environment=environment)


def _missing(name: str, feature: FeatureSchema, environment: str | None) -> Anomaly:
    where = f" in {environment} data" if environment else ""
    severity = ERROR if feature.min_presence > 0 else WARNING
    return Anomaly(
        name,
        "missing_column",
        severity,
        f"column {name!r} is expected{where} but missing; restore it upstream, or mark it "
        f"absent with not_in_environments (or remove it) in the schema",
    )


def _check_feature(f: FeatureStatistics, rule: FeatureSchema) -> list[Anomaly]:
    found: list[Anomaly] = []
    if f.kind != rule.kind and not (f.kind == "other" and f.present == 0):
        found.append(
            Anomaly(
                f.name,
                "type_change",
                ERROR,
                f"{f.name!r} is {f.kind} ({f.dtype}) but the schema expects {rule.kind} "
                f"({rule.dtype}); fix the upstream type or cast it, or update the schema",
            )
        )
        return found
    if rule.dtype and f.dtype != rule.dtype and f.present:
        found.append(
            Anomaly(
                f.name,
                "type_change",
                WARNING,
                f"{f.name!r} has dtype {f.dtype}, the schema recorded {rule.dtype} (same kind, "
                f"{f.kind}); check the upstream cast or update the schema's dtype",
            )
        )
    if f.count and f.presence < rule.min_presence:
        found.append(
            Anomaly(
                f.name,
                "too_many_nulls",
                ERROR,
                f"{f.name!r} has values in {f.presence:.2%} of rows, the schema requires "
                f"{rule.min_presence:.2%} ({f.nulls} nulls in {f.count} rows); "
                "find why values went "
                "missing upstream, or lower min_presence",
            )
        )
    if f.kind == NUMERIC and rule.domain is not None and f.numeric is not None and f.numeric.count:
        found.extend(_domain(f, rule))
    if f.kind == CATEGORICAL and rule.vocabulary is not None and f.categorical is not None:
        found.extend(_vocabulary(f, rule))
    return found


def _domain(f: FeatureStatistics, rule: FeatureSchema) -> list[Anomaly]:
    assert f.numeric is not None and rule.domain is not None
    lo, hi = rule.domain
    num = f.numeric
    if num.min >= lo and num.max <= hi:
        return []
    below = float(num.sketch.cdf([lo])[0]) if num.min < lo else 0.0
    above = 1.0 - float(num.sketch.cdf([hi])[0]) if num.max > hi else 0.0
    share = below + above
    severity = ERROR if share > rule.max_out_of_domain_fraction else WARNING
    return [
        Anomaly(
            f.name,
            "out_of_domain",
            severity,
            f"{f.name!r} ranges over [{num.min:.6g}, {num.max:.6g}], outside the domain "
            f"[{lo:.6g}, {hi:.6g}] for about {share:.2%} of values (tolerated: "
            f"{rule.max_out_of_domain_fraction:.2%}); check units or upstream bugs, or widen the "
            "schema's domain if the new values are legitimate",
        )
    ]


def _vocabulary(f: FeatureStatistics, rule: FeatureSchema) -> list[Anomaly]:
    assert f.categorical is not None and rule.vocabulary is not None
    allowed = set(rule.vocabulary)
    cat = f.categorical
    unseen = {k: c for k, c in cat.frequencies.items() if k not in allowed}
    unseen_rows = sum(unseen.values()) + cat.other_count
    if not unseen_rows:
        return []
    share = unseen_rows / max(cat.count, 1)
    examples = ", ".join(repr(k) for k, _ in sorted(unseen.items(), key=lambda kv: -kv[1])[:5])
    severity = ERROR if share > rule.max_unseen_fraction else WARNING
    return [
        Anomaly(
            f.name,
            "unseen_categories",
            severity,
            f"{f.name!r} has {len(unseen)} values outside the schema's vocabulary ({examples}) in "
            f"{share:.2%} of rows (tolerated: {rule.max_unseen_fraction:.2%}); add them to the "
            "vocabulary if they are valid, or fix the upstream encoding",
        )
    ]


def _drift_anomalies(
    reference: Statistics, stats: Statistics, schema: Schema, expected: dict[str, FeatureSchema]
) -> list[Anomaly]:
    from mloop.data.drift import detect_drift

    report = detect_drift(reference, stats, schema)
    found = []
    for verdict in report.features:
        if not verdict.drifted or verdict.name not in expected or verdict.status == "type_changed":
            continue
        blocking = expected[verdict.name].drift.blocking
        found.append(
            Anomaly(
                verdict.name,
                "drift",
                ERROR if blocking else WARNING,
                f"{verdict.name!r} drifted from the reference: "
                f"{verdict.method} {verdict.score:.4g} > "
                f"{verdict.threshold:.4g} ({verdict.summary}); check the source, or retrain if the "
                "change is real",
            )
        )
    return found
