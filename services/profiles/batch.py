"""One batch item's fate, so that a bad item never sinks the good ones."""

from dataclasses import dataclass

from pydantic import ValidationError

from services.common.errors import Problem, validation_errors


@dataclass
class ItemOutcome:
    status: str  # created, updated, unchanged or error
    http_status: int
    record_id: str | None = None
    error: dict | None = None


def error_outcome(status: int, title: str, detail: str, field: str, **extra) -> ItemOutcome:
    errors = [{"field": field, "message": detail}]
    return ItemOutcome("error", status, error={"title": title, "status": status, "detail": detail, "errors": errors, **extra})


def problem_outcome(problem: Problem) -> ItemOutcome:
    return error_outcome(problem.status, problem.title, problem.detail, problem.field or "body", **problem.extra)


def invalid_outcome(error: ValidationError) -> ItemOutcome:
    errors = validation_errors(error.errors())
    detail = "; ".join(f"{entry['field']}: {entry['message']}" for entry in errors)
    return ItemOutcome("error", 422, error={"title": "Validation failed", "status": 422, "detail": detail, "errors": errors})


def raise_for(outcome: ItemOutcome) -> None:
    """A single write answers with the same error its batch item would have had."""
    if outcome.error is None:
        return
    extra = {key: value for key, value in outcome.error.items() if key not in ("title", "status", "detail", "errors")}
    raise Problem(outcome.http_status, outcome.error["title"], outcome.error["detail"],
                  field=outcome.error["errors"][0]["field"], **extra)
