"""The error vocabulary: the tree in ``mloop.errors``' docstring, its classes and ``__all__``
name the same errors, and each drawn parent is the class's real base (issue 14.3)."""

from __future__ import annotations

import inspect
import re

import mloop.errors as errors


def _classes() -> dict[str, type]:
    return {
        name: cls
        for name, cls in vars(errors).items()
        if inspect.isclass(cls) and cls.__module__ == "mloop.errors"
    }


def _drawn_tree() -> dict[str, str | None]:
    """name -> parent, read from the docstring's box drawing (indent = 4 columns a level)."""
    doc = errors.__doc__ or ""
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in doc.splitlines():
        match = re.match(r"^(\s*)((?:[│ ] {3})*)(?:[├└]── )?([A-Z]\w+(?:Error|Warning))\b", line)
        if not match or match.group(1) != "    ":
            continue
        depth = len(match.group(2)) // 4 + (1 if "── " in line else 0)
        name = match.group(3)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[name] = stack[-1][1] if stack else None
        stack.append((depth, name))
    return parents


def test_tree_classes_and_all_name_the_same_errors() -> None:
    classes = _classes()
    assert set(errors.__all__) == set(classes)
    assert errors.__all__ == sorted(errors.__all__)
    assert set(_drawn_tree()) == set(classes)


def test_each_drawn_parent_is_the_real_base() -> None:
    classes = _classes()
    for name, parent in _drawn_tree().items():
        own_bases = [b.__name__ for b in classes[name].__bases__ if b.__module__ == "mloop.errors"]
        assert own_bases == ([parent] if parent else []), name


def test_every_error_derives_from_the_root() -> None:
    for name, cls in _classes().items():
        assert issubclass(cls, (errors.MloopError, errors.MloopWarning)), name


def test_one_wire_vocabulary_for_every_server() -> None:
    """The prediction service, the feature server and the infra server answer errors with one
    table (issue 14.3): same status, same code for the same error."""
    from mloop.components import infra_server  # noqa: F401  (imports without a server)
    from mloop.features.server import status_of as feature_status
    from mloop.serving.http.errors import status_of as serving_status

    samples = [
        errors.FeatureNotFoundError("v:f", ["v"]),
        errors.ValidationError("bad"),
        errors.RequestParseError("nope"),
        errors.OnlineStoreUnavailableError("down"),
        errors.ModelNotReadyError("loading"),
        errors.MloopError("a bug"),
    ]
    for exc in samples:
        assert feature_status(exc) == serving_status(exc) == errors.wire_status(exc)
    codes = {errors.wire_status(e)[1] for e in samples}
    assert codes == {
        "not_found",
        "invalid_input",
        "bad_request",
        "unavailable",
        "not_ready",
        "internal",
    }
