"""Reading a transaction log: the bulk reader for plain files and the strict reader agree, and
whatever the bulk reader does not take as it is still reaches the strict reader's checks."""

import numpy as np
import pytest

from services.scoring.analysis import transaction_file
from services.scoring.analysis.transaction_file import MalformedTransactions, parse_transactions

HEADER = b"customer_id,occurred_at,amount\n"
PLAIN = HEADER + b"c2,2020-01-03,5.50\nc1,2020-01-01,10\nc2,2020-01-02,-1.25\nc10,2020-01-01,0\n"


def assert_same(left, right):
    np.testing.assert_array_equal(left.customer_code, right.customer_code)
    assert left.customer_ids.to_list() == right.customer_ids.to_list()
    np.testing.assert_array_equal(left.day, right.day)
    np.testing.assert_array_equal(left.amount, right.amount)


def test_a_plain_file_is_read_in_bulk_with_the_strict_readers_result():
    bulk = transaction_file._plain_transactions(PLAIN)
    assert bulk is not None
    assert_same(bulk, transaction_file._strict_transactions(PLAIN))


def test_customers_are_coded_in_byte_order_of_their_ids():
    transactions = parse_transactions(PLAIN)
    assert transactions.customer_ids.to_list() == ["c1", "c10", "c2"]
    assert transactions.customer_code.tolist() == [2, 0, 2, 1]


def test_extra_columns_in_any_order_are_ignored():
    text = b"amount,note,customer_id,occurred_at\n10,x,c1,2020-01-01\n5,y,c2,2020-01-02\n"
    transactions = parse_transactions(text)
    assert transactions.customer_ids.to_list() == ["c1", "c2"] and transactions.amount.tolist() == [10.0, 5.0]


@pytest.mark.parametrize(
    "text",
    [
        HEADER + b'"c1",2020-01-01,10\n',
        HEADER + b"c1,2020-01-01T12:00:00,10\n",
        HEADER + b"c1,2020-01-01T12:00:00+02:00,10\n",
        b"\xef\xbb\xbf" + HEADER.replace(b"\n", b"\r\n") + b"c1,2020-01-01,10\r\n",
    ],
)
def test_quotes_times_offsets_and_crlf_give_what_the_strict_reader_gives(text):
    normalised = text.removeprefix(b"\xef\xbb\xbf").replace(b"\r\n", b"\n")
    assert_same(parse_transactions(text), transaction_file._strict_transactions(normalised))


@pytest.mark.parametrize(
    "text, line, problem",
    [
        (PLAIN + b"\nc3,2020-01-04,1\n", 6, "expected 3 fields, found 0"),
        (PLAIN + b"c3,2020-01-04\n", 6, "expected 3 fields, found 2"),
        (PLAIN + b"c3,2020-13-01,1\n", 6, "not an ISO date"),
        (PLAIN + b"c3,2020-01-04,inf\n", 6, "not a decimal number"),
        (PLAIN + b"c3,2020-01-04,nan\n", 6, "not a decimal number"),
    ],
)
def test_what_the_bulk_reader_declines_is_reported_by_the_strict_reader(text, line, problem):
    with pytest.raises(MalformedTransactions) as raised:
        parse_transactions(text)
    assert raised.value.line == line and problem in raised.value.problem
