"""J11 framing over a stream (j11.md §2.4): both checksums checked, each fault a typed error with
what the module answers to it, and the reader back in step on the next unique code."""

from __future__ import annotations

import pytest

from routeb.errors import J11FrameError, UsageError
from routeb.j11 import Frame, FrameFault, FrameReader, MessageReader, Origin, encode, encode_frame
from routeb.j11 import notifications as n
from routeb.j11 import requests as q
from routeb.j11 import responses as r
from routeb.j11.frame import MAX_DATA, MAX_FRAME, checksum, decode_frame

RESET = encode(q.HardwareReset())
STATUS = encode(q.GetStatus())
STARTUP = encode(n.StartupComplete())
DONE = encode(r.InitialSettingsDone())


def _faults(items: list[Frame | J11FrameError]) -> list[tuple[str, int | None, int]]:
    return [(e.kind, e.command, e.skipped) for e in items if isinstance(e, J11FrameError)]


def _frames(items: list[Frame | J11FrameError]) -> list[Frame]:
    return [f for f in items if isinstance(f, Frame)]


def _with_header(command: int, length: int) -> bytes:
    head = bytes.fromhex("D0EA83FC") + command.to_bytes(2, "big") + length.to_bytes(2, "big")
    return head + checksum(head).to_bytes(2, "big") + b"\x00\x00"


def test_text_before_a_frame_is_skipped_and_reported_once() -> None:
    # §2.4 / §13: an SKSTACK probe on a J11 port is dropped, the frame after it still read.
    reader = FrameReader(Origin.HOST)
    items = reader.feed(b"SKVER\r\n" + RESET + b"\r\n" + STATUS)
    assert [f.command for f in _frames(items)] == [0x00D9, 0x0001]
    assert _faults(items) == [("unique-code", None, 7), ("unique-code", None, 2)]
    assert reader.discarded == 9


def test_the_other_directions_unique_code_is_not_a_frame() -> None:
    reader = FrameReader(Origin.MODULE)
    items = reader.feed(RESET + STARTUP)
    assert _frames(items) == [Frame(Origin.MODULE, 0x6019)]
    assert _faults(items) == [("unique-code", None, len(RESET))]


def test_a_bad_header_checksum_then_resync() -> None:
    bad = bytearray(RESET)
    bad[9] ^= 0x01
    items = FrameReader(Origin.HOST).feed(bytes(bad) + STATUS)
    assert _faults(items)[0] == ("header-checksum", None, 0)
    assert [f.command for f in _frames(items)] == [0x0001]


def test_a_bad_data_checksum_names_the_command() -> None:
    bad = bytearray(encode(q.InitialSettings(4)))
    bad[-1] ^= 0x01
    items = FrameReader(Origin.HOST).feed(bytes(bad) + STATUS)
    assert _faults(items) == [("data-checksum", 0x005F, 0)]
    assert [f.command for f in _frames(items)] == [0x0001]


def test_a_frame_cut_short_gives_up_the_frame_behind_it() -> None:
    # The first frame lost bytes: its length swallows the next frame, whose unique code the
    # reader finds again inside the rejected data (§15.5: split/merged reads).
    cut = encode(q.InitialSettings(4))[:-2]
    following = encode(q.OpenPort(3610)) + STATUS
    items = FrameReader(Origin.HOST).feed(cut + following)
    assert _faults(items) == [("data-checksum", 0x005F, 0)]
    assert [f.command for f in _frames(items)] == [0x0005, 0x0001]


def test_a_stalled_frame_expires_as_truncated() -> None:
    # §2.4: data shorter than the length → after 1 s the module answers 0x13.
    reader = FrameReader(Origin.HOST)
    assert reader.feed(encode(q.OpenPort(3610))[:-1]) == []
    assert reader.pending
    items = reader.expire()
    assert _faults(items) == [("truncated", 0x0005, 0)]
    assert not reader.pending
    assert reader.buffered == 0
    assert reader.expire() == []
    # A stalled header (command still unknown) expires too.
    reader.feed(RESET[:6])
    assert _faults(reader.expire()) == [("truncated", None, 0)]
    assert _frames(reader.feed(STATUS)) == [Frame(Origin.HOST, 0x0001)]


def test_message_lengths_out_of_range() -> None:
    # §2.4: length < 4 → 0xF2; > 1353 → 0xF3; both named by their command.
    items = FrameReader(Origin.HOST).feed(_with_header(0x0008, 3) + STATUS)
    assert _faults(items) == [("undersize", 0x0008, 0)]
    assert [f.command for f in _frames(items)] == [0x0001]
    items = FrameReader(Origin.HOST).feed(_with_header(0x0008, 0x054A) + STATUS)
    assert _faults(items) == [("oversize", 0x0008, 0)]
    assert [f.command for f in _frames(items)] == [0x0001]


def test_the_largest_frame_is_accepted_and_bounded() -> None:
    big = encode_frame(Frame(Origin.HOST, 0x0008, bytes(MAX_DATA)))
    assert len(big) == MAX_FRAME
    reader = FrameReader(Origin.HOST)
    for byte in big[:-1]:
        assert reader.feed(bytes((byte,))) == []
        assert reader.buffered <= MAX_FRAME
    assert _frames(reader.feed(big[-1:])) == [Frame(Origin.HOST, 0x0008, bytes(MAX_DATA))]
    with pytest.raises(UsageError):
        encode_frame(Frame(Origin.HOST, 0x0008, bytes(MAX_DATA + 1)))


def test_endless_noise_stays_bounded() -> None:
    reader = FrameReader(Origin.MODULE)
    for _ in range(200):
        reader.feed(b"\xd0\xf9\xee" * 333)
        assert reader.buffered <= 3
    assert _faults(reader.feed(STARTUP)) == [("unique-code", None, 200 * 999)]


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        (b"", FrameFault.UNIQUE_CODE),
        (b"SKVER\r\n", FrameFault.UNIQUE_CODE),
        (RESET[:11], FrameFault.TRUNCATED),
        (encode(q.OpenPort(1))[:-1], FrameFault.TRUNCATED),
        (RESET + b"\x00", FrameFault.TRAILING),
    ],
)
def test_decode_frame_is_strict(raw: bytes, kind: FrameFault) -> None:
    with pytest.raises(J11FrameError) as caught:
        decode_frame(raw)
    assert caught.value.kind == kind
    with pytest.raises(J11FrameError):
        decode_frame(STARTUP, Origin.HOST)  # the wrong side's unique code


def test_message_reader_returns_decode_errors_as_values() -> None:
    # A frame that checks but whose data does not fit (0x005F with channel 0x30) → 0x04.
    bad = encode_frame(Frame(Origin.HOST, 0x005F, bytes((5, 0, 0x30, 0))))
    reader = MessageReader(Origin.HOST)
    items = reader.feed(bad + STATUS)
    assert items[1] == q.GetStatus()
    error = items[0]
    assert not isinstance(error, J11FrameError)
    assert getattr(error, "result", None) == 0x04
    assert getattr(error, "command", None) == 0x005F
