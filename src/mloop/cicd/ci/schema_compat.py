"""Check (g) of ``mloop ci``: is the candidate model's signature compatible with the serving
contract of the model the target environment serves now (``name@alias``, the alias of the
environment: ``production`` for prod, ``staging`` for staging)?

The clients of the service send what the current signature asks for, and the service checks
every request against the signature it serves (:mod:`mloop.serving.signature_check`), so:

- an input the candidate **adds** breaks them (the service calls it missing);
- an input it **removes** breaks them (the service refuses unknown columns);
- a **dtype change** breaks them unless it widens: ``int``/``bool`` -> ``float`` and
  ``float32`` -> ``float64`` accept everything the old one did; any other change of kind
  (``float`` -> ``int``, number <-> string) refuses values clients send;
- **nullability**: a column the current contract accepts missing values in (a float column, or
  one whose input example holds nulls) must still accept them: a float column becoming an
  ``int``/``bool``/string one no longer does;
- a change of the **output** dtype (``predict``) changes what clients read back.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["compare_signatures", "nullable_columns"]

_WIDENING = {("int", "float"), ("bool", "float"), ("bool", "int")}


def _kind(dtype: str) -> str:
    from mloop.serving.signature_check import dtype_kind

    return dtype_kind(dtype)


def nullable_columns(signature: Mapping[str, Any], example: Any = None) -> set[str]:
    """Inputs that can carry a missing value: float columns (NaN), and any column whose input
    example (a pandas frame) holds a null."""
    found = {c["name"] for c in signature.get("inputs", []) if _kind(str(c["dtype"])) == "float"}
    if example is not None:
        found |= {str(c) for c in example.columns if bool(example[c].isna().any())}
    return found


def compare_signatures(
    current: Mapping[str, Any],
    candidate: Mapping[str, Any],
    *,
    current_nullable: set[str] | None = None,
    candidate_nullable: set[str] | None = None,
) -> list[str]:
    """Breaking differences between two signatures (``Signature.to_dict()`` form), one line
    each; empty when the candidate can take the current model's place."""
    cur = {c["name"]: str(c["dtype"]) for c in current.get("inputs", [])}
    new = {c["name"]: str(c["dtype"]) for c in candidate.get("inputs", [])}
    problems = [
        f"input {n!r} is new (clients of the current model do not send it)"
        for n in new
        if n not in cur
    ]
    problems += [
        f"input {n!r} was removed (clients still send it; the service refuses unknown inputs)"
        for n in cur
        if n not in new
    ]
    cur_null = nullable_columns(current) if current_nullable is None else current_nullable
    new_null = nullable_columns(candidate) if candidate_nullable is None else candidate_nullable
    for name in (n for n in cur if n in new):
        before, after = cur[name], new[name]
        kb, ka = _kind(before), _kind(after)
        if kb != ka and (kb, ka) not in _WIDENING:
            problems.append(f"input {name!r} changed dtype {before} -> {after}")
        elif kb == ka == "float" and before == "float64" and after == "float32":
            problems.append(f"input {name!r} narrowed {before} -> {after} (precision is lost)")
        if name in cur_null and name not in new_null:
            problems.append(
                f"input {name!r} accepted missing values ({before}) but the candidate's "
                f"{after} does not"
            )
    problems += _outputs(current.get("outputs", []), candidate.get("outputs", []))
    return problems


def _outputs(
    current: Sequence[Mapping[str, Any]], candidate: Sequence[Mapping[str, Any]]
) -> list[str]:
    cur = {c["name"]: str(c["dtype"]) for c in current}
    new = {c["name"]: str(c["dtype"]) for c in candidate}
    return [
        f"output {n!r} changed dtype {cur[n]} -> {new[n]} (clients read different values)"
        for n in cur
        if n in new and _kind(cur[n]) != _kind(new[n])
    ]
