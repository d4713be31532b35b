"""Text that every database can store. PostgreSQL keeps neither NUL characters nor lone
surrogates (unpaired UTF-16 halves, which a JSON `\\ud800` escape can carry), so a request that
holds one anywhere — a field, a list item, a key or value deep in free JSON, a path or query
parameter — is refused with a 422 naming where, before anything is written, on every backend."""

import re

from fastapi import Request
from pydantic import BaseModel, ConfigDict, field_validator
from pydantic_core import PydanticCustomError

from services.common.errors import Problem

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
ERROR_TYPE = "unstorable_text"  # errors.validation_errors appends the error's `at` path to the field


def unstorable(text: str) -> str | None:
    """Why `text` cannot be stored, or None if it can."""
    found = UNSTORABLE.search(text)
    if found is None:
        return None
    return "contains a NUL character" if found.group() == "\x00" else "contains a lone surrogate (an unpaired \\ud800-\\udfff)"


def find_unstorable(value, at: tuple = ()) -> tuple[tuple, str] | None:
    """The path and reason of the first string in `value` (strings, lists, dict keys and values) that cannot be stored."""
    if isinstance(value, str):
        reason = unstorable(value)
        return (at, reason) if reason else None
    if isinstance(value, dict):
        for key, item in value.items():
            reason = unstorable(key) if isinstance(key, str) else None
            found = (at, f"has a key that {reason}") if reason else find_unstorable(item, (*at, key))
            if found:
                return found
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            if found := find_unstorable(item, (*at, index)):
                return found
    return None


def check_storable(value):
    """For a pydantic validator: raises an error whose `at` locates the string inside the field."""
    found = find_unstorable(value)
    if found:
        at, reason = found
        raise PydanticCustomError(ERROR_TYPE, "{reason}", {"reason": reason, "at": list(at)})
    return value


class RequestModel(BaseModel):
    """The base of every request body: unknown fields refused, text trimmed, every string storable."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    @field_validator("*")
    @classmethod
    def storable_text(cls, value):
        if isinstance(value, str) and UNSTORABLE.search(value) is None:
            return value  # the common case, without the walk through nested values
        return check_storable(value)


async def storable_parameters(request: Request) -> None:
    """A router dependency: path and query parameters hold storable text too (`async` so that FastAPI
    does not hand it to a thread)."""
    for name, value in [*request.path_params.items(), *request.query_params.multi_items()]:
        if isinstance(value, str) and (reason := unstorable(value)):
            raise Problem(422, "Validation failed", reason, field=name)
