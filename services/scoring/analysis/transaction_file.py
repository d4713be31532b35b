"""Reading a transaction log `customer_id,occurred_at,amount` from CSV bytes, fast and strictly.

A plain file (no quotes, dates without a time) is parsed by polars. Anything else, and any file
polars refuses, goes to the strict reader: columns split and converted in bulk with vectorised
checks, and only when a check fails is the column walked to find the first offending line, so
that the error can name it. The strict reader decides what is valid; the fast one only declines.
"""

import csv
import io
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
import polars as pl

COLUMNS = ("customer_id", "occurred_at", "amount")
SECONDS_PER_DAY = 86_400
# No date or date-time in ISO form is shorter than YYYY-MM-DD; after it may come a time and an offset.
DATE_LENGTH = 10
OFFSET_MARKS = np.frombuffer(b"Zz+-", dtype=np.uint8)
PLAIN_DATE = r"^\d{4}-\d{2}-\d{2}$"


class MalformedTransactions(ValueError):
    """Names the line (1 = header), the column when there is one, and what is wrong."""

    def __init__(self, *, line: int, problem: str, column: str | None = None):
        where = f"column '{column}': " if column else ""
        super().__init__(f"{line}: {where}{problem}")
        self.line, self.column, self.problem = line, column, problem


@dataclass(frozen=True)
class Transactions:
    """In file order; `day` is fractional days since 1970-01-01 UTC.

    Each transaction's customer is a code into `customer_ids`, the distinct ids in byte order.
    """

    customer_code: np.ndarray
    customer_ids: pl.Series
    day: np.ndarray
    amount: np.ndarray

    @staticmethod
    def line_of(index: int) -> int:
        return index + 2


def parse_transactions(data: bytes) -> Transactions:
    data = data.removeprefix(b"\xef\xbb\xbf")
    if b"\r" in data:  # a one-byte search is cheap; replace scans the whole file even in vain
        data = data.replace(b"\r\n", b"\n")
    return _plain_transactions(data) or _strict_transactions(data)


def _plain_transactions(data: bytes) -> Transactions | None:
    """The common file, parsed in bulk by polars; None for anything it does not take as it is."""
    frame = _plain_frame(data)
    if frame is None or not frame["occurred_at"].str.contains(PLAIN_DATE).all():
        return None  # date-times and offsets go the careful way
    try:
        day = frame["occurred_at"].str.to_date("%Y-%m-%d").to_physical().to_numpy().astype(float)
    except pl.exceptions.PolarsError:
        return None
    amount = frame["amount"].to_numpy()
    if not np.all(np.isfinite(amount)):
        return None
    codes, ids = _coded_customers(frame["customer_id"])
    return Transactions(customer_code=codes, customer_ids=ids, day=day, amount=amount)


def _plain_frame(data: bytes) -> pl.DataFrame | None:
    """Row i is line i + 2 of the file: no quotes, no lone carriage returns, no line skipped."""
    if b'"' in data or b"\r" in data:
        return None
    try:
        frame = pl.read_csv(data, infer_schema=False, schema_overrides={"amount": pl.Float64})
    except pl.exceptions.PolarsError:
        return None
    lines = data.count(b"\n") + (not data.endswith(b"\n"))
    if frame.is_empty() or frame.height != lines - 1 or not set(COLUMNS) <= set(frame.columns):
        return None
    if any(frame.null_count().row(0)):
        return None
    return frame


def _coded_customers(ids: pl.Series) -> tuple[np.ndarray, pl.Series]:
    """Each row's code among the distinct ids, and those ids in byte order."""
    codes = (ids.rank("dense") - 1).to_numpy().astype(np.int64)
    one_row_of_each = np.empty(codes.max() + 1, dtype=np.int64)
    one_row_of_each[codes] = np.arange(codes.size)
    return codes, ids.gather(one_row_of_each)


def _strict_transactions(data: bytes) -> Transactions:
    header, _, body = data.partition(b"\n")
    if not header.strip():
        raise MalformedTransactions(line=1, problem="empty file: expected the header customer_id,occurred_at,amount")
    names = [name.strip() for name in header.decode("utf-8", "replace").split(",")]
    positions = _column_positions(names)
    fields = _fields(body.removesuffix(b"\n"), len(names))
    if not fields[0].size:
        raise MalformedTransactions(line=2, problem="no transactions after the header")
    ids, codes = np.unique(_customer_ids(fields[positions["customer_id"]]), return_inverse=True)
    return Transactions(
        customer_code=codes.ravel(),
        customer_ids=pl.Series(np.char.decode(ids, "utf-8", "replace")),
        day=parse_days(fields[positions["occurred_at"]], column="occurred_at"),
        amount=_amounts(fields[positions["amount"]]),
    )


def _column_positions(header: list[str]) -> dict[str, int]:
    for name in COLUMNS:
        if name not in header:
            raise MalformedTransactions(line=1, column=name, problem=f"missing from the header ({','.join(header)})")
    return {name: header.index(name) for name in COLUMNS}


def _fields(body: bytes, width: int) -> list[np.ndarray]:
    """The body's columns as arrays of bytes, one entry per line after the header."""
    if not body:
        return [np.array([], dtype="S1") for _ in range(width)]
    lines = body.count(b"\n") + 1
    if b'"' not in body:
        flat = body.replace(b"\n", b",").split(b",")
        if len(flat) == width * lines:
            cells = np.array(flat).reshape(lines, width)  # one conversion for all columns is cheaper
            return [np.ascontiguousarray(cells[:, i]) for i in range(width)]
    rows = list(csv.reader(io.StringIO(body.decode("utf-8", "replace"))))
    for index, row in enumerate(rows):
        if len(row) != width:
            raise MalformedTransactions(line=index + 2, problem=f"expected {width} fields, found {len(row)}")
    return [np.array([value.encode() for value in column]) for column in zip(*rows)]


def _customer_ids(ids: np.ndarray) -> np.ndarray:
    empty = np.flatnonzero(ids == b"")
    if empty.size:
        raise MalformedTransactions(line=int(empty[0]) + 2, column="customer_id", problem="empty")
    return ids


def _amounts(raw: np.ndarray) -> np.ndarray:
    try:
        amounts = raw.astype(np.float64)
    except ValueError:
        amounts = None
    if amounts is None or not np.all(np.isfinite(amounts)):
        index = next(i for i, value in enumerate(raw.tolist()) if not _is_decimal(value))
        raise MalformedTransactions(line=index + 2, column="amount", problem=f"not a decimal number: '{_text(raw[index])}'")
    return amounts


def _is_decimal(value: bytes) -> bool:
    try:
        return bool(np.isfinite(float(value)))
    except ValueError:
        return False


def _text(value) -> str:
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def parse_days(raw, *, column: str) -> np.ndarray:
    """ISO dates or date-times (bytes or str) as fractional days since the epoch, in UTC."""
    strings = np.asarray(raw)
    if strings.size == 0:
        return np.zeros(0)
    seconds = _numpy_seconds(strings) if _naive_iso(strings) else None
    if seconds is None:
        seconds = np.array([_seconds_or_fail(_text(value), i, column) for i, value in enumerate(strings.tolist())])
    return seconds / SECONDS_PER_DAY


def _naive_iso(strings: np.ndarray) -> bool:
    """Dates and date-times without an offset, which numpy parses in bulk; the rest go the careful way."""
    if strings.dtype.kind != "S" or np.char.str_len(strings).min() < DATE_LENGTH:
        return False
    characters = strings.view(np.uint8).reshape(strings.size, strings.itemsize)
    return not np.isin(characters[:, DATE_LENGTH:], OFFSET_MARKS).any()


def _numpy_seconds(strings: np.ndarray) -> np.ndarray | None:
    try:
        return strings.astype("datetime64[s]").astype(np.int64).astype(float)
    except ValueError:
        return None


def _seconds_or_fail(value: str, index: int, column: str) -> float:
    try:
        if len(value) < DATE_LENGTH:
            raise ValueError(value)
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise MalformedTransactions(line=index + 2, column=column, problem=f"not an ISO date or date-time: '{value}'") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return moment.timestamp()
