"""The fleet message schema: round trips, every rejection with its reason, and the column-wise
fast check agreeing with the row-by-row one on any table."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routeb.fleet import schema
from routeb.fleet.schema import SCHEMA_VERSION, FleetMessage, MessageError, decode, encode


def _payload(**fields: object) -> bytes:
    return json.dumps({"v": SCHEMA_VERSION, "site": "s", "meter": "m", **fields}).encode()


def test_encode_decode_round_trip() -> None:
    message = FleetMessage(
        "site-1",
        "meter",
        [[1_780_000_000, -120, 31, None]],
        [[1_780_000_000, 12345, None, 1, 2, 6]],
        [[1_780_000_200, 12345, 0, 1, 2, 6, 15, None, 9]],
        sent=1_780_000_300.25,
    )
    decoded = decode(encode(message))
    assert decoded == message


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (b"{", "not JSON"),
        (b"[]", "not a JSON object"),
        (json.dumps({"v": 99, "site": "s", "meter": "m"}).encode(), "unknown schema version"),
        (_payload(site=""), "bad site"),
        (_payload(meter="a\\b"), "bad meter"),
        (_payload(sent="now"), "bad sent"),
        (_payload(i={}), "i: not a list"),
        (_payload(i=[[1, 2, 3]]), "i[0]: not a list of 4"),
        (_payload(i=[[1, 2, 3, 4], [None, 2, 3, 4]]), "i[1]: null where a value is required"),
        (_payload(i=[[1, 2, 3, 4], [1, 2, 40_000, 4]]), "i[1]: 40000 is not an integer"),
        (_payload(i=[[1, 2.5, 3, 4]]), "i[0]: 2.5 is not an integer"),
        (_payload(i=[[1, True, 3, 4]]), "i[0]: True is not an integer"),
        (_payload(c=[[1, 2, 3, 1, 2, 9]]), "c[0]: 9 is not an integer in 1..8"),
        (_payload(s=[[1800 * 3 + 1, 1, 1, 1, 2, 6, 0, 0, 1]]), "is not a :00/:30 boundary"),
    ],
)
def test_rejections_name_their_reason(payload: bytes, reason: str) -> None:
    with pytest.raises(MessageError) as caught:
        decode(payload)
    assert reason in caught.value.reason


_cell = st.one_of(
    st.none(),
    st.integers(-40_000, 40_000),
    st.integers(-(2**40), 2**40),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=2),
)
_table = st.lists(
    st.one_of(st.lists(_cell, min_size=3, max_size=5), st.integers(), st.none()), max_size=8
)


def _row_by_row(rows: list[object], columns: tuple[tuple[int, int, bool], ...]) -> bool:
    for row in rows:
        if type(row) is not list or len(row) != len(columns):
            return False
        for value, (low, high, nullable) in zip(row, columns, strict=True):
            if value is None:
                if not nullable:
                    return False
            elif type(value) is not int or not low <= value <= high:
                return False
    return True


@settings(max_examples=400)
@given(rows=_table)
def test_the_column_check_agrees_with_the_row_check(rows: list[object]) -> None:
    columns = schema._INSTANT_COLS
    expected = _row_by_row(rows, columns)
    assert schema._valid_columns(rows, columns) == expected
    if expected:
        assert decode(_payload(i=rows)).instant == rows
    else:
        with pytest.raises(MessageError, match=r"^i\["):
            decode(_payload(i=rows))
