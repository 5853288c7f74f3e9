"""The fleet message schema: round trips, every rejection with its kind and reason, the bounds a
message cannot pass (size, nesting, duplicate keys, time window, days), and hostile input of any
shape ending as a MessageError, never as anything else (issue 15 §1)."""

from __future__ import annotations

import json
from array import array
from itertools import accumulate
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from routeb.fleet import bounded_json, schema
from routeb.fleet.schema import (
    DAY,
    MAX_ROWS,
    REJECTIONS,
    SCHEMA_VERSION,
    FleetMessage,
    MessageError,
    MessageLimits,
    decode,
    encode,
)

NOW = 1_780_000_000  # 2026-05-28T20:26:40Z: the receiver's clock in these tests
SLOT = NOW - NOW % 1800


def _payload(**fields: object) -> bytes:
    return json.dumps({"v": SCHEMA_VERSION, "site": "s", "meter": "m", **fields}).encode()


def _rejected(payload: bytes, limits: MessageLimits = schema.DEFAULT_LIMITS) -> MessageError:
    with pytest.raises(MessageError) as caught:
        decode(payload, limits, now=NOW)
    assert caught.value.kind in REJECTIONS
    return caught.value


def test_encode_decode_round_trip() -> None:
    message = FleetMessage(
        "site-1",
        "meter",
        [[NOW, -120, 31, None]],
        [[NOW, 12345, None, 1, 2, 6]],
        [[SLOT, 12345, 0, 1, 2, 6, 15, None, 9]],
        sent=NOW + 0.25,
    )
    decoded = decode(encode(message), now=NOW)
    assert decoded == message
    assert decoded.span("instant") == (NOW, NOW)


_NESTED = b"[" * 1000 + b"]" * 1000  # the 2 kB message of issue 15


@pytest.mark.parametrize(
    ("payload", "kind", "reason"),
    [
        (b"{", "json", "not JSON"),
        (b"[]", "type", "not a JSON object"),
        (json.dumps({"v": 99, "site": "s", "meter": "m"}).encode(), "version", "unknown schema"),
        (_payload(v=True), "version", "unknown schema version"),
        (_payload(v="1"), "version", "unknown schema version"),
        (_payload(site=""), "identity", "bad site"),
        (_payload(site=5), "identity", "bad site"),
        (_payload(meter="a\\b"), "identity", "bad meter"),
        (_payload(meter="\ud800"), "identity", "bad meter"),  # a lone surrogate, escaped
        (_payload(meter="x" * 201), "identity", "bad meter"),
        (_payload(sent="now"), "sent", "bad sent"),
        (_payload(sent=NOW + 2 * DAY), "sent", "bad sent"),
        (_payload(i={}), "type", "i: not a list"),
        (_payload(i="[[1,2,3,4]]"), "type", "i: not a list"),
        (_payload(i=[{"ts": NOW}]), "type", "i[0]: not a list of 4"),
        (_payload(i=[[NOW, 2, 3]]), "type", "i[0]: not a list of 4"),
        (_payload(i=[[NOW, 2, 3, 4], [None, 2, 3, 4]]), "range", "i[1]: null where a value"),
        (_payload(i=[[NOW, 2, 3, 4], [NOW, 2, 40_000, 4]]), "range", "i[1]: 40000 is not an"),
        (_payload(i=[[NOW, 2.5, 3, 4]]), "type", "i[0]: 2.5 is not an integer"),
        (_payload(i=[[float(NOW), 2, 3, 4]]), "type", "is not an integer"),
        (_payload(i=[[str(NOW), 2, 3, 4]]), "type", "is not an integer"),
        (_payload(i=[[NOW, True, 3, 4]]), "type", "i[0]: True is not an integer"),
        (_payload(c=[[NOW, 2, 3, 1, 2, 9]]), "range", "c[0]: 9 is not an integer in 1..8"),
        (_payload(s=[[SLOT + 1, 1, 1, 1, 2, 6, 0, 0, 1]]), "boundary", "not a :00/:30 boundary"),
        # Time stamps: 2^37 (year 6325), before the window, ahead of it.
        (_payload(i=[[2**37, 1, 1, 1]]), "window", "i[0]: time stamp 137438953472 is outside"),
        (_payload(i=[[0, 1, 1, 1]]), "window", "i[0]: time stamp 0 is outside"),
        (_payload(c=[[NOW - 401 * DAY, 1, 1, 1, 2, 6]]), "window", "c[0]: time stamp"),
        (_payload(s=[[SLOT + 2 * DAY, 1, 1, 1, 2, 6, 0, 0, 1]]), "window", "s[0]: time stamp"),
        # Bounded before parsing: nesting, size, encoding.
        (_NESTED, "depth", "nested deeper than 16 levels"),
        (b'{"v":1,"site":"s","meter":"m","x":' + _NESTED + b"}", "depth", "nested deeper"),
        (b'{"a":' * 17 + b"1" + b"}" * 17, "depth", "nested deeper than 16 levels"),
        (b"[" * 100_000, "depth", "nested deeper"),
        (_payload(x="y" * (1 << 20)), "oversize", "more than the limit of 1048576"),
        (b"\xff\xfe", "encoding", "not UTF-8 (byte 0)"),
        (_payload().decode().encode("utf-16"), "encoding", "not UTF-8"),
        (_payload(site="s") + b"\xc3", "encoding", "not UTF-8"),
        # Parsed, then refused.
        (b'{"v":1,"v":2,"site":"s","meter":"m"}', "duplicate_key", "duplicate key 'v'"),
        (b'{"v":1,"site":"s","meter":"m","x":{"a":1,"a":1}}', "duplicate_key", "'a'"),
        (b'{"v":1,"site":"s","meter":"m","sent":NaN}', "json", "NaN is not a JSON number"),
        (b'{"v":1,"site":"s","meter":"m","sent":-Infinity}', "json", "not a JSON number"),
        (b'{"v":1,"site":"s","meter":"m","i":[[' + b"9" * 5000 + b",1,1,1]]}", "json", "limit"),
        # One message whose readings are spread over 5,000 days (issue 15).
        (_payload(s=[[SLOT - d * DAY, 1, 1, 1, 2, 6, 0, 0, 1] for d in range(5000)]), "days", ""),
        (_payload(i=[[NOW - d * DAY, 1, 1, 1] for d in range(65)]), "days", "65 distinct days"),
    ],
)
def test_rejections_name_their_kind_and_reason(payload: bytes, kind: str, reason: str) -> None:
    error = _rejected(payload)
    assert (error.kind, reason in error.reason) == (kind, True), error.reason
    assert len(error.reason) <= 200


def test_rows_of_one_kind_are_bounded_under_any_size_limit() -> None:
    payload = _payload(i=[[NOW, 1, 1, 1]] * (MAX_ROWS + 1))
    error = _rejected(payload, MessageLimits(max_bytes=len(payload)))
    assert (error.kind, error.reason) == ("rows", "i: more than 100000 rows")


def test_the_window_is_around_the_receivers_clock() -> None:
    limits = MessageLimits(max_age_days=10, max_slot_age_days=100, max_ahead_hours=1.0)
    ahead = NOW + 3600
    decode(_payload(i=[[NOW - 10 * DAY, 1, 1, 1], [ahead, 1, 1, 1]]), limits, now=NOW)
    assert _rejected(_payload(i=[[ahead + 1, 1, 1, 1]]), limits).kind == "window"
    assert _rejected(_payload(i=[[NOW - 10 * DAY - 1, 1, 1, 1]]), limits).kind == "window"
    # Slots (kept for ever by the homes, monthly partitions) have a wider window of their own.
    old_slot = SLOT - 99 * DAY
    decode(_payload(s=[[old_slot, 1, 1, 1, 2, 6, 0, 0, 1]]), limits, now=NOW)
    error = _rejected(_payload(c=[[old_slot, 1, 1, 1, 2, 6]]), limits)
    assert error.kind == "window"
    # The same message is fine a day later on a receiver whose clock says so.
    decode(_payload(i=[[ahead + DAY, 1, 1, 1]]), limits, now=NOW + DAY)


def test_days_count_distinct_days_not_the_span() -> None:
    limits = MessageLimits(max_days=3)
    # A year apart but on two days: two partitions.
    decode(_payload(i=[[NOW, 1, 1, 1]], c=[[NOW - 365 * DAY, 1, 1, 1, 2, 6]]), limits, now=NOW)
    three = [[NOW - d * 100 * DAY, 1, 1, 1] for d in range(3)]
    decode(_payload(i=three), limits, now=NOW)
    error = _rejected(_payload(i=three, s=[[SLOT - 7 * DAY, 1, 1, 1, 2, 6, 0, 0, 1]]), limits)
    assert error.reason == "readings on 4 distinct days, more than the limit of 3"


# --- hostile input of any shape ----------------------------------------------------------------

_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.integers(NOW - 500 * DAY, NOW + 2 * DAY),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(alphabet='[]{}"\\,:ab\u00e9\u3042\x00', max_size=8),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=5),
        st.dictionaries(st.text(alphabet='[]{}"\\ab', max_size=3), inner, max_size=4),
    ),
    max_leaves=30,
)


def _depth_of(value: Any) -> int:
    if isinstance(value, list):
        return 1 + max(map(_depth_of, value), default=0)
    if isinstance(value, dict):
        return 1 + max(map(_depth_of, value.values()), default=0)
    return 0


@settings(max_examples=400)
@given(value=_json, ascii_only=st.booleans())
def test_the_depth_scan_agrees_with_the_parser(value: Any, ascii_only: bool) -> None:
    raw = json.dumps(value, ensure_ascii=ascii_only).encode()
    expected = _depth_of(value)
    assert bounded_json.depth(raw) == expected
    for limit in range(6):
        assert bounded_json.within(raw, limit) == (expected <= limit)


@settings(max_examples=400)
@given(raw=st.binary(max_size=300) | st.text(alphabet='[]{}"\\ 1,', max_size=300).map(str.encode))
def test_the_fast_depth_check_agrees_with_the_exact_one(raw: bytes) -> None:
    heights = list(accumulate(array("b", bounded_json._brackets(raw))))
    json_like = min(heights, default=0) >= 0  # never closes what it did not open, as JSON
    for limit in (0, 1, 2, 5, 16):
        fast, exact = bounded_json.within(raw, limit), bounded_json.depth(raw) <= limit
        # Never says "shallow" for deep input; exact for anything JSON could be.
        assert fast == exact if json_like else fast <= exact


def _valid() -> st.SearchStrategy[dict[str, Any]]:
    instant = st.tuples(
        st.integers(NOW - 300 * DAY, NOW + 3600), st.integers(-1000, 5000), st.none(), st.none()
    ).map(list)
    return st.fixed_dictionaries(
        {"v": st.just(1), "site": st.sampled_from(["s-1", "s-2"]), "meter": st.just("m")},
        optional={"i": st.lists(instant, max_size=5), "sent": st.just(NOW)},
    )


def _mutate(message: dict[str, Any], data: st.DataObject) -> bytes:
    """A valid message with one hostile change (or none)."""
    how = data.draw(st.sampled_from(["none", "key", "nest", "dup", "bytes", "cut", "spread"]))
    if how == "key":
        message[data.draw(st.sampled_from(["v", "site", "meter", "i", "sent", "x"]))] = data.draw(
            _json
        )
    elif how == "nest":
        depth = data.draw(st.integers(1, 3000))
        message["x"] = json.loads("[" * min(depth, 10) + "]" * min(depth, 10))
        raw = json.dumps(message).encode()
        return raw.replace(b"[]", b"[" * depth + b"]" * depth, 1)
    elif how == "dup":
        raw = json.dumps(message).encode()
        return raw[:-1] + b',"v":' + json.dumps(data.draw(_scalars)).encode() + b"}"
    elif how == "bytes":
        raw = bytearray(json.dumps(message).encode())
        for _ in range(data.draw(st.integers(1, 4))):
            raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
        return bytes(raw)
    elif how == "cut":
        raw = json.dumps(message).encode()
        return raw[: data.draw(st.integers(0, len(raw)))]
    elif how == "spread":
        days = data.draw(st.integers(60, 400))
        message["i"] = [[NOW - d * DAY, 1, None, None] for d in range(days)]
    return json.dumps(message).encode()


@settings(max_examples=600)
@given(message=_valid(), data=st.data())
def test_any_input_is_a_message_or_a_message_error(message: dict[str, Any], data: Any) -> None:
    raw = _mutate(message, data)
    try:
        decoded = decode(raw, now=NOW)
    except MessageError as exc:
        error: MessageError | None = exc
    else:
        error = None
    if error is not None:
        assert error.kind in REJECTIONS
        assert error.reason
        return
    # Accepted: it is exactly what was sent, and sending it again gives the same.
    assert decode(encode(decoded), now=NOW) == decoded
    assert len({ts // DAY for ts, *_ in decoded.instant}) <= schema.DEFAULT_LIMITS.max_days


@settings(max_examples=200)
@given(raw=st.binary(max_size=200))
def test_random_bytes_are_rejected_with_a_kind(raw: bytes) -> None:
    kinds = []
    try:
        decode(raw, now=NOW)
    except MessageError as exc:
        kinds.append(exc.kind)
    assert set(kinds) <= set(REJECTIONS)


# --- the column-wise fast check ------------------------------------------------------------------

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
_COLUMNS = ((0, 2**37, False), *schema._INSTANT_COLS)


def _row_by_row(rows: list[object], columns: schema.Columns) -> bool:
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
    expected = _row_by_row(rows, _COLUMNS)
    span = schema._valid_columns(rows, _COLUMNS)
    assert (span is not None) == expected
    if rows and span is not None:
        stamps = [row[0] for row in rows]  # type: ignore[index]
        assert span == (min(stamps), max(stamps))
    # A window of 0 … 2^37 around NOW: decode accepts exactly the same tables.
    everything = MessageLimits(
        max_age_days=NOW // DAY + 1, max_ahead_hours=(2**37 - NOW) / 3600, max_days=10
    )
    if expected:
        assert decode(_payload(i=rows), everything, now=NOW).instant == rows
    else:
        with pytest.raises(MessageError, match=r"^i\["):
            decode(_payload(i=rows), everything, now=NOW)


def test_a_time_stamp_before_the_epoch_is_refused_however_wide_the_window() -> None:
    wide = MessageLimits(max_age_days=NOW // DAY + 30, max_ahead_hours=1, max_days=10)
    with pytest.raises(MessageError, match=r"^i\[0\]: time stamp -1 is outside"):
        decode(_payload(i=[[-1, None, None, None]]), wide, now=NOW)
