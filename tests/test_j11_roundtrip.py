"""J11 round trips: for every message of both directions, decode(encode(m)) == m, and for any
bytes that decode, encode(decode(b)) == b (j11.md §4–§5)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from routeb.errors import J11DecodeError, J11FrameError
from routeb.j11 import Frame, MessageReader, Origin, decode, decode_bytes, encode, encode_frame
from routeb.j11.messages import Message
from routeb.j11.notifications import NOTIFICATIONS
from routeb.j11.requests import REQUESTS
from routeb.j11.responses import RESPONSES
from tests.j11_strategies import host_messages, messages, module_messages


@settings(max_examples=1500, deadline=None)
@given(messages)
def test_decode_inverts_encode(message: Message) -> None:
    raw = encode(message)
    assert decode_bytes(raw) == message
    assert encode(decode_bytes(raw)) == raw


@settings(max_examples=400, deadline=None)
@given(st.lists(host_messages, max_size=6), st.lists(module_messages, max_size=6))
def test_streams_of_messages_come_back_in_order(
    hosts: list[Message], modules: list[Message]
) -> None:
    for origin, sent in ((Origin.HOST, hosts), (Origin.MODULE, modules)):
        wire = b"".join(encode(m) for m in sent)
        reader = MessageReader(origin)
        got = [item for i in range(len(wire)) for item in reader.feed(wire[i : i + 1])]
        assert got == sent
        assert reader.buffered == 0


@settings(max_examples=1500, deadline=None)
@given(
    st.sampled_from([Origin.HOST, Origin.MODULE]),
    st.sampled_from(sorted({*REQUESTS, *RESPONSES, *NOTIFICATIONS, 0x2FFF, 0xFFFF})),
    st.binary(max_size=80),
)
def test_any_data_that_decodes_reencodes_to_the_same_bytes(
    origin: Origin, code: int, data: bytes
) -> None:
    frame = Frame(origin, code, data)
    try:
        message = decode(frame)
    except J11DecodeError as exc:
        error: J11DecodeError | None = exc
    else:
        error = None
        assert encode(message) == encode_frame(frame)
    assert error is None or error.command == code


def test_every_documented_code_has_a_class() -> None:
    # j11.md §4.1–§4.2 request codes, their responses, and the §5 notifications.
    documented = {
        0x00D9, 0x006B, 0x0001, 0x000E, 0x0009, 0x0107, 0x005F, 0x0011, 0x0100, 0x0007,
        0x0005, 0x0006, 0x0008, 0x0101, 0x0102, 0x010A, 0x010B, 0x0051, 0x00DB, 0x00D1,
        0x0054, 0x0053, 0x0056, 0x0057, 0x0058, 0x00D2, 0x005E, 0x0059,
    }  # fmt: skip
    assert set(REQUESTS) == documented
    assert set(RESPONSES) == {c | 0x2000 for c in documented} - {0x20D9}  # 0x00D9: no response
    assert set(NOTIFICATIONS) == {0x4051, 0x6018, 0x6019, 0x601A, 0x6028, 0x6038, 0x60D1}
    assert not isinstance(decode_bytes(encode_frame(Frame(Origin.MODULE, 0x6019))), J11FrameError)
