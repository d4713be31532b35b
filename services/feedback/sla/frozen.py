"""Copying frozen state cheaply."""

from __future__ import annotations

from dataclasses import fields
from functools import cache
from typing import TypeVar

State = TypeVar("State")


def evolve(original: State, /, **changes) -> State:
    """A copy of a frozen dataclass with `changes`, like dataclasses.replace but several times cheaper.

    Recomputing 100,000 open complaints after a calendar change copies each clock and complaint;
    replace() re-runs the frozen __init__ field by field, which was most of that time. None of
    these classes has a __post_init__ for this to skip.
    """
    unknown = changes.keys() - _field_names(type(original))
    if unknown:
        raise TypeError(f"{type(original).__name__} has no field {sorted(unknown)[0]!r}")
    copy = object.__new__(type(original))
    copy.__dict__.update(original.__dict__, **changes)
    return copy


@cache
def _field_names(cls: type) -> frozenset[str]:
    return frozenset(f.name for f in fields(cls))
