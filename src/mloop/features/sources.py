"""Where feature rows come from: a Parquet file or folder, a CSV file, a SQL table or query.

Sources are plain descriptions (no I/O): the offline store decides how to read them. Names follow
Feast (``FileSource(path=, timestamp_field=, created_timestamp_column=)``). A relative ``path`` is
resolved against the feature repository folder.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from mloop.errors import FeatureDefinitionError

FileFormat = Literal["parquet", "csv"]


@dataclass(frozen=True, kw_only=True)
class DataSource:
    """Common part of every batch source: the event time column and the optional
    row-creation time column used to break ties between rows with the same event time."""

    timestamp_field: str = "event_timestamp"
    created_timestamp_column: str | None = None
    name: str | None = None

    def to_spec(self) -> dict[str, Any]:
        raise NotImplementedError


@dataclass(frozen=True)
class FileSource(DataSource):
    """A Parquet file, a folder of Parquet files (read recursively) or a CSV file."""

    path: str
    file_format: FileFormat | None = None

    def __post_init__(self) -> None:
        if not self.path:
            raise FeatureDefinitionError("FileSource needs a path (a .parquet/.csv file or folder)")
        if self.file_format not in (None, "parquet", "csv"):
            raise FeatureDefinitionError(
                f"FileSource({self.path!r}): file_format {self.file_format!r} is not 'parquet' "
                "or 'csv'"
            )
        if self.file_format is None:
            guess = "csv" if self.path.lower().endswith((".csv", ".csv.gz")) else "parquet"
            object.__setattr__(self, "file_format", guess)

    @property
    def format(self) -> FileFormat:
        """``file_format`` if given, else guessed from the suffix (folders are Parquet)."""
        return self.file_format or "parquet"

    def to_spec(self) -> dict[str, Any]:
        return {
            "type": "file",
            "path": self.path,
            "file_format": self.format,
            "timestamp_field": self.timestamp_field,
            "created_timestamp_column": self.created_timestamp_column,
            "name": self.name,
        }


@dataclass(frozen=True)
class SqlSource(DataSource):
    """A table (or a SELECT) in any database SQLAlchemy can reach, by URL."""

    url: str
    table: str | None = None
    query: str | None = None

    def __post_init__(self) -> None:
        if not self.url or (self.table is None) == (self.query is None):
            raise FeatureDefinitionError(
                "SqlSource needs a SQLAlchemy url and exactly one of table= or query="
            )

    def to_spec(self) -> dict[str, Any]:
        return {
            "type": "sql",
            "url": self.url,
            "table": self.table,
            "query": self.query,
            "timestamp_field": self.timestamp_field,
            "created_timestamp_column": self.created_timestamp_column,
            "name": self.name,
        }


@dataclass(frozen=True)
class RequestSource:
    """Values that arrive with a request (not stored), for on-demand feature views."""

    name: str
    schema: list[Any] = field(default_factory=list)  # list[Field]

    def to_spec(self) -> dict[str, Any]:
        return {
            "type": "request",
            "name": self.name,
            "schema": [{"name": f.name, "dtype": f.dtype} for f in self.schema],
        }


def source_from_spec(spec: dict[str, Any]) -> DataSource:
    """Rebuild a batch source from :meth:`DataSource.to_spec` output."""
    common = {
        "timestamp_field": spec["timestamp_field"],
        "created_timestamp_column": spec.get("created_timestamp_column"),
        "name": spec.get("name"),
    }
    if spec["type"] == "file":
        return FileSource(path=spec["path"], file_format=spec.get("file_format"), **common)
    if spec["type"] == "sql":
        return SqlSource(
            url=spec["url"], table=spec.get("table"), query=spec.get("query"), **common
        )
    raise FeatureDefinitionError(f"unknown source type {spec['type']!r} in a stored definition")
