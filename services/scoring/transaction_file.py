"""Reading a transaction log `customer_id,occurred_at,amount` from CSV text, fast and strictly.

Columns are converted in bulk with vectorised checks; only when a check fails is the file
walked to find the first offending line, so that the error can name it.
"""

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np

COLUMNS = ("customer_id", "occurred_at", "amount")
SECONDS_PER_DAY = 86_400
# No date or date-time in ISO form is shorter than YYYY-MM-DD.
SHORTEST_ISO = 10


class MalformedTransactions(ValueError):
    """Names the line (1 = header), the column when there is one, and what is wrong."""

    def __init__(self, *, line: int, problem: str, column: str | None = None):
        where = f"column '{column}': " if column else ""
        super().__init__(f"{line}: {where}{problem}")
        self.line, self.column, self.problem = line, column, problem


@dataclass(frozen=True)
class Transactions:
    """In file order; `day` is fractional days since 1970-01-01 UTC."""

    customer_id: list[str]
    day: np.ndarray
    amount: np.ndarray

    def line_of(self, index: int) -> int:
        return index + 2


def parse_transactions(text: str) -> Transactions:
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise MalformedTransactions(line=1, problem="empty file: expected the header customer_id,occurred_at,amount")
    header = [name.strip() for name in lines[0].split(",")]
    positions = _column_positions(header)
    fields = _fields(lines, text, len(header))
    values = {name: fields[position] for name, position in positions.items()}
    if not values["amount"]:
        raise MalformedTransactions(line=2, problem="no transactions after the header")
    return Transactions(
        customer_id=_customer_ids(values["customer_id"]),
        day=parse_days(values["occurred_at"], column="occurred_at"),
        amount=_amounts(values["amount"]),
    )


def _column_positions(header: list[str]) -> dict[str, int]:
    for name in COLUMNS:
        if name not in header:
            raise MalformedTransactions(line=1, column=name, problem=f"missing from the header ({','.join(header)})")
    return {name: header.index(name) for name in COLUMNS}


def _fields(lines: list[str], text: str, width: int) -> list[list[str]]:
    """The columns of the body as lists of strings, one per line after the header."""
    body = lines[1:]
    if '"' in text:
        rows = list(csv.reader(io.StringIO("\n".join(body))))
    else:
        flat = ",".join(body).split(",")
        if len(flat) == width * len(body):
            return [flat[i::width] for i in range(width)]
        rows = [line.split(",") for line in body]
    for index, row in enumerate(rows):
        if len(row) != width:
            raise MalformedTransactions(line=index + 2, problem=f"expected {width} fields, found {len(row)}")
    return [list(column) for column in zip(*rows)] if rows else [[] for _ in range(width)]


def _customer_ids(raw: list[str]) -> list[str]:
    ids = [value.strip() for value in raw]
    if not all(ids):
        raise MalformedTransactions(line=ids.index("") + 2, column="customer_id", problem="empty")
    return ids


def _amounts(raw: list[str]) -> np.ndarray:
    strings = np.array(raw)
    try:
        amounts = strings.astype(np.float64)
    except ValueError:
        amounts = None
    if amounts is None or not np.all(np.isfinite(amounts)):
        index = next(i for i, value in enumerate(raw) if not _is_decimal(value))
        raise MalformedTransactions(line=index + 2, column="amount", problem=f"not a decimal number: '{raw[index]}'")
    return amounts


def _is_decimal(value: str) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except ValueError:
        return False


def parse_days(raw: list[str], *, column: str) -> np.ndarray:
    """ISO dates or date-times as fractional days since the epoch, in UTC."""
    strings = np.char.strip(np.array(raw))
    if strings.size == 0:
        return np.zeros(0)
    seconds = _numpy_seconds(strings) if _plain_iso(strings) else None
    if seconds is None:
        seconds = np.array([_seconds_or_fail(value, i, column) for i, value in enumerate(strings.tolist())])
    return seconds / SECONDS_PER_DAY


def _plain_iso(strings: np.ndarray) -> bool:
    """Naive dates and date-times, which numpy parses in bulk; offsets go the careful way."""
    lengths = np.char.str_len(strings)
    if lengths.min() < SHORTEST_ISO:
        return False
    tails = np.array([s[SHORTEST_ISO:] for s in strings.tolist()]) if lengths.max() > SHORTEST_ISO else None
    return tails is None or not any(np.char.count(tails, mark).any() for mark in ("Z", "z", "+", "-"))


def _numpy_seconds(strings: np.ndarray) -> np.ndarray | None:
    try:
        return strings.astype("datetime64[s]").astype(np.int64).astype(float)
    except ValueError:
        return None


def _seconds_or_fail(value: str, index: int, column: str) -> float:
    try:
        if len(value) < SHORTEST_ISO:
            raise ValueError(value)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise MalformedTransactions(line=index + 2, column=column, problem=f"not an ISO date or date-time: '{value}'") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()
