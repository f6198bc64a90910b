"""One JSON file per value, for result classes with ``to_dict()`` / ``from_dict()``.

Statistics, schemas, anomalies, drift reports, evaluations and blessings are all such records.
The class is named by a dotted string, not imported, so registering the materializer (an entry
point, or a component module) does not import the library that defines it.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path
from typing import Any, ClassVar

from mloop.pipelines.materializers.base import Materializer


class JsonRecordMaterializer(Materializer):
    """Subclasses set ``name``, ``artifact_type``, ``file_name`` and ``value_class``
    (``"package.module:Class"``); ``types`` follows from ``value_class``. Override
    :meth:`properties` to record a few fields in the metadata store."""

    version = 1
    file_name: ClassVar[str]
    value_class: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "value_class" in cls.__dict__:
            cls.types = (cls.value_class.replace(":", "."),)

    def save(self, value: Any, folder: Path) -> dict[str, Any]:
        # the standard library, not orjson: NaN must stay NaN, not become null
        text = json.dumps(value.to_dict(), indent=1, sort_keys=True, default=str)
        (folder / self.file_name).write_text(text + "\n", encoding="utf-8")
        return self.properties(value)

    def load(self, folder: Path) -> Any:
        module, _, name = self.value_class.partition(":")
        cls = getattr(importlib.import_module(module), name)
        return cls.from_dict(json.loads((folder / self.file_name).read_text(encoding="utf-8")))

    def properties(self, value: Any) -> dict[str, Any]:
        return {}
