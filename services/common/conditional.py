"""Optimistic concurrency over HTTP: a record's version as its `ETag`, checked against `If-Match`."""

from services.common.errors import Problem


def etag(version: int) -> str:
    return f'"{version}"'


def check_if_match(if_match: str | None, version: int) -> None:
    """No header: the write goes ahead. Otherwise one of the listed tags (or `*`) must be the current one."""
    if if_match is None:
        return
    # Weak and strong forms of our tags name the same version, so W/ is accepted too.
    tags = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if "*" not in tags and etag(version) not in tags:
        raise Problem(412, "Precondition Failed", "the record changed since this ETag was read; read it again",
                      field="If-Match", current_etag=etag(version))
