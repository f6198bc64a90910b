"""A classifier's class labels, kept apart from the classes its native model predicts.

A model fitted on encoded labels (``LabelEncoder``, XGBoost's required 0..k-1, or the ``train``
component's 1/0 for ``positive``) predicts 0/1; the package records the labels the training data
had (``["good", "bad"]``) and :class:`ClassLabels` turns one into the other, so a served model
answers ``"bad"`` and names its probability columns ``proba_bad``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from mloop.errors import ValidationError

__all__ = ["ClassLabels", "class_labels"]


def _plain(value: Any) -> Any:
    """A JSON-able Python scalar from a numpy scalar."""
    return value.item() if hasattr(value, "item") else value


def class_labels(given: Any, native: Sequence[Any] | None) -> list[Any] | None:
    """The labels to record: ``given`` (a sequence, or a fitted encoder with ``classes_``)
    when the caller names them, else the native classes; None for a model without classes.
    ``given`` must name one label per native class (in the native classes' order)."""
    if given is None:
        return None if native is None else [_plain(c) for c in native]
    labels = list(getattr(given, "classes_", given))
    if len(set(map(repr, labels))) != len(labels):
        raise ValidationError(f"the class labels {labels} name a class twice")
    if native is not None and len(labels) != len(native):
        raise ValidationError(
            f"{len(labels)} class labels {labels} were given for a model with "
            f"{len(native)} classes {list(native)}; give one label per class, in the order "
            "of the model's classes_"
        )
    return [_plain(c) for c in labels]


class ClassLabels:
    """Maps native predictions to labels: the i-th native class becomes the i-th label."""

    def __init__(self, native: Sequence[Any], labels: Sequence[Any]) -> None:
        codes = np.asarray(list(native))
        self._order = np.argsort(codes, kind="stable")
        self._sorted = codes[self._order]
        self._labels = np.asarray(list(labels))

    @classmethod
    def of(cls, manifest: Any) -> ClassLabels | None:
        """The mapping a manifest needs, or None when the model predicts its labels itself."""
        labels = manifest.classes
        native = manifest.flavor_options.get("classes")
        if labels is None or native is None or list(labels) == list(native):
            return None
        return cls(native, labels)

    def map(self, predictions: Any) -> np.ndarray:
        """The label of each native prediction; ``ValidationError`` for one outside the
        classes (a package whose recorded classes do not fit its model)."""
        values = np.asarray(predictions)
        pos = np.clip(np.searchsorted(self._sorted, values), 0, len(self._sorted) - 1)
        if not np.all(self._sorted[pos] == values):
            raise ValidationError(
                f"the model predicted a class outside its recorded classes {self._sorted.tolist()}"
            )
        return self._labels[self._order[pos]]
