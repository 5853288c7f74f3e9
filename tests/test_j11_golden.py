"""J11 golden frames: every frame of j11.md §12 (the application-note samples and the published
vectors) decodes to the message it means and re-encodes to the same bytes; the §2.3 worked
checksums come out of the encoder; the §12.3 frames that do not check are rejected."""

from __future__ import annotations

import ipaddress

import pytest

from routeb._redact import Secret
from routeb.echonet.frame import ESV
from routeb.echonet.frame import decode_frame as decode_echonet
from routeb.errors import J11DecodeError, J11FrameError, UsageError
from routeb.j11 import (
    Command,
    FrameFault,
    PanaOutcome,
    Rejected,
    Result,
    SendOutcome,
    decode_bytes,
    decode_frame,
    encode,
    link_local,
    mac_of,
)
from routeb.j11 import notifications as n
from routeb.j11 import requests as q
from routeb.j11 import responses as r
from routeb.j11.codes import (
    ALL_CHANNELS,
    GlobalState,
    LinkState,
    OperationMode,
    RouteState,
    channel_from_skstack,
    channel_to_skstack,
    scan_dwell,
)
from routeb.j11.frame import checksum

AN_ID = "00112233445566778899AABBCCDDEEFF"  # j11.md §7.2: the AN placeholders
AN_PASSWORD = "0123456789AB"
AN_MAC = "0050C2FFFEDC2822"
AN_METER = ipaddress.IPv6Address("FE80::0250:C2FF:FEDC:2822")
TOSA_LL = ipaddress.IPv6Address(bytes.fromhex("123456789ABCDEF0123456789ABCDEF0"))


def _hex(text: str) -> bytes:
    return bytes.fromhex(text.replace(" ", ""))


# j11.md §12.1: the application note's frames (F11 is absent from the transcription).
AN_FRAMES: list[tuple[str, str, object]] = [
    ("F1", "D0EA83FC 00D9 0004 0416 0000", q.HardwareReset()),
    ("F2", "D0F9EE5D 6019 0004 0391 0000", n.StartupComplete()),
    ("F3", "D0EA83FC 005F 0008 03A0 0009 05 00 04 00", q.InitialSettings(4)),
    ("F4", "D0F9EE5D 205F 0005 0398 0001 01", r.InitialSettingsDone()),
    (
        "F5",
        "D0EA83FC 0054 0030 03BD 09D4" + (AN_ID + AN_PASSWORD).encode().hex(),
        q.SetCredentials(Secret(AN_ID), Secret(AN_PASSWORD)),
    ),
    ("F6", "D0F9EE5D 2054 0005 038D 0001 01", r.CredentialsSet()),
    (
        "F7",
        "D0EA83FC 0051 0012 039C 041D 06 0003FFF0 01 4343444445454646",
        q.ActiveScan(6, ALL_CHANNELS, b"CCDDEEFF"),
    ),
    ("F8a", "D0F9EE5D 4051 0006 03AB 0005 01 04", n.ScanResult(4)),
    (
        "F8b",
        "D0F9EE5D 4051 0012 03B7 06BA 00 0C 01 0050C2FFFEDC2822 BCDE DE",
        n.ScanResult(12, (n.Beacon(AN_MAC, 0xBCDE, -34),)),
    ),
    ("F9", "D0F9EE5D 2051 0005 038A 0001 01", r.ScanDone()),
    ("F10", "D0EA83FC 005F 0008 03A0 0011 05 00 0C 00", q.InitialSettings(12)),
    ("F12", "D0EA83FC 0053 0004 0390 0000", q.StartBRoute()),
    (
        "F13",
        "D0F9EE5D 2053 0011 0398 06BA 01 0C BCDE 0050C2FFFEDC2822 DE",
        r.BRouteStarted(12, 0xBCDE, AN_MAC, -34),
    ),
    ("F14", "D0EA83FC 0005 0006 0344 0028 0E1A", q.OpenPort(3610)),
    ("F15", "D0F9EE5D 2005 0005 033E 0001 01", r.PortOpened()),
    ("F16", "D0EA83FC 0056 0004 0393 0000", q.StartPana()),
    ("F17", "D0F9EE5D 2056 0005 038F 0001 01", r.PanaStarted()),
    (
        "F18",
        "D0F9EE5D 6028 000D 03A9 0436 01 0050C2FFFEDC2822",
        n.PanaResult(PanaOutcome.SUCCESS, AN_MAC),
    ),
    (
        "F19",
        "D0F9EE5D 6018 0038 03C4 0E1C FE80000000000000 0250C2FFFEDC2822 0E1A 0E1A BCDE 00 02 DE"
        " 0019 1081 0001 028801 05FF01 73 01 EA 0B 07DF081F151E00 00000DAC",
        n.DataReceived(
            AN_METER,
            3610,
            3610,
            0xBCDE,
            n.UNICAST,
            n.ENCRYPTED,
            -34,
            _hex("1081 0001 028801 05FF01 73 01 EA 0B 07DF081F151E00 00000DAC"),
        ),
    ),
    (
        "F20",
        "D0EA83FC 0008 002A 036B 0A75 FE80000000000000 0250C2FFFEDC2822 0E1A 0E1A 0010"
        " 1081 0006 05FF01 028801 62 02 EA00 EB00",
        q.SendData(AN_METER, 3610, 3610, _hex("1081 0006 05FF01 028801 62 02 EA00 EB00")),
    ),
    ("F21", "D0F9EE5D 2008 000B 0347 009D 01 00 1081000605", r.DataSent(0x00, _hex("1081000605"))),
    (
        "F22",
        "D0F9EE5D 6018 0045 03D1 108D FE80000000000000 0250C2FFFEDC2822 0E1A 0E1A 22A9 00 02 CB"
        " 0026 1081 0006 028801 05FF01 72 02 EA 0B 07E20A020E1E00 000373AF"
        " EB 0B 07E20A020E1E00 00016A72",
        n.DataReceived(
            AN_METER,
            3610,
            3610,
            0x22A9,
            n.UNICAST,
            n.ENCRYPTED,
            -53,
            _hex(
                "1081 0006 028801 05FF01 72 02 EA 0B 07E20A020E1E00 000373AF"
                " EB 0B 07E20A020E1E00 00016A72"
            ),
        ),
    ),
]

AN = {name: text for name, text, _ in AN_FRAMES}
DEV = "0001020304050607"
# j11.md §12.2: the other published vectors (J11IF §2.6, TOSA's synthetic unit tests).
VECTORS: list[tuple[str, str, object]] = [
    ("get MAC (J11IF §2.6)", "D0EA83FC 000E 0004 034B 0000", q.GetMacAddress()),
    ("get status", "D0EA83FC 0001 0004 033E 0000", q.GetStatus()),
    ("get UDP ports", "D0EA83FC 0007 0004 0344 0000", q.GetOpenPorts()),
    ("get IP", "D0EA83FC 0009 0004 0346 0000", q.GetIpAddress()),
    ("get terminal info", "D0EA83FC 0100 0004 033E 0000", q.GetTerminalInfo()),
    ("get ND", "D0EA83FC 0102 0004 0340 0000", q.GetNeighbourDiscovery()),
    ("get initial settings", "D0EA83FC 0107 0004 0345 0000", q.GetInitialSettings()),
    ("get UART", "D0EA83FC 010B 0004 0349 0000", q.GetFlowControl()),
    ("initial settings ch 5", "D0EA83FC 005F 0008 03A0 000A 05 00 05 00", q.InitialSettings(5)),
    ("ND on", "D0EA83FC 0101 0005 0340 0001 01", q.SetNeighbourDiscovery(True)),
    ("flow control on", "D0EA83FC 010A 0005 0349 0001 01", q.SetFlowControl(True)),
    ("open 0x1234", "D0EA83FC 0005 0006 0344 0046 1234", q.OpenPort(0x1234)),
    ("close 0x1234", "D0EA83FC 0006 0006 0345 0046 1234", q.ClosePort(0x1234)),
    (
        "send 4 bytes",
        "D0EA83FC 0008 001E 035F 0D6A 123456789ABCDEF0123456789ABCDEF0 ABCD 1234 0004 DEADBEEF",
        q.SendData(TOSA_LL, 0xABCD, 0x1234, _hex("DEADBEEF")),
    ),
    ("version", "D0EA83FC 006B 0004 03A8 0000", q.GetVersion()),
    ("B-route start", "D0EA83FC 0053 0004 0390 0000", q.StartBRoute()),
    ("PANA start", "D0EA83FC 0056 0004 0393 0000", q.StartPana()),
    ("PANA end", "D0EA83FC 0057 0004 0394 0000", q.EndPana()),
    ("B-route end", "D0EA83FC 0058 0004 0395 0000", q.EndBRoute()),
    ("re-auth", "D0EA83FC 00D2 0004 040F 0000", q.Reauthenticate()),
    (
        "status",
        "D0F9EE5D 2001 0008 033D 0007 01 02 01 03",
        r.Status(GlobalState.NOT_STARTED, RouteState.NOT_STARTED, RouteState.AUTHENTICATED),
    ),
    ("send rejected", "D0F9EE5D 2008 0005 0341 0002 02", Rejected(0x2008, Result(0x02))),
    (
        "send result 0x12",
        "D0F9EE5D 2008 0009 0345 027A 01 12 ABCDEF",
        r.DataSent(0x12, _hex("ABCDEF")),
    ),
    (
        "two beacons",
        "D0F9EE5D 4051 001D 03C2 051E 00 0C 02 0001020304050607 ABCD DE 0010203040506070 1234 98",
        n.ScanResult(12, (n.Beacon(DEV, 0xABCD, -34), n.Beacon("0010203040506070", 0x1234, -104))),
    ),
    (
        "version 1.3",
        "D0F9EE5D 206B 000D 03AC 00A8 01 0400 01 03 0000158A",
        r.Version(0x0400, 1, 3, 0x158A),
    ),
    (
        "data received, multicast",
        "D0F9EE5D 6018 0023 03AF 06DE FE800001020304050607 08090A0B0C0D ABCD 1234 5678 01 02 DE"
        " 0004 98765432",
        n.DataReceived(
            ipaddress.IPv6Address(_hex("FE80000102030405060708090A0B0C0D")),
            0xABCD,
            0x1234,
            0x5678,
            n.MULTICAST,
            n.ENCRYPTED,
            -34,
            _hex("98765432"),
        ),
    ),
    (
        "MAC connected",
        "D0F9EE5D 601A 000E 039C 00FB 01 0001020304050607 DE",
        n.ConnectionChanged(LinkState.MAC_CONNECTED, DEV, -34),
    ),
    (
        "PANA success",
        "D0F9EE5D 6028 000D 03A9 001D 01 0001020304050607",
        n.PanaResult(PanaOutcome.SUCCESS, DEV),
    ),
    (
        "key",
        "D0F9EE5D 2059 0015 03A2 0079 01 000102030405060708090A0B0C0D0E0F",
        r.EncryptionKey(bytes(range(16))),
    ),
    ("PAN ID", "D0F9EE5D 205E 0007 0399 0006 01 0203", r.PanId(0x0203)),
    ("start failed", "D0F9EE5D 2053 0005 038C 0002 02", Rejected(0x2053, Result(0x02))),
    (
        "connected on ch 8",
        "D0F9EE5D 2053 0011 0398 027B 01 08 ABCD 0001020304050607 DE",
        r.BRouteStarted(8, 0xABCD, DEV, -34),
    ),
    ("PANA started", "D0F9EE5D 2056 0005 038F 0001 01", r.PanaStarted()),
    ("PANA ended", "D0F9EE5D 2057 0005 0390 0001 01", r.PanaEnded()),
    ("B-route ended", "D0F9EE5D 2058 0005 0391 0001 01", r.BRouteEnded()),
    ("re-auth started", "D0F9EE5D 20D2 0005 040B 0001 01", r.ReauthenticationStarted()),
    ("ND set", "D0F9EE5D 2101 0005 033B 0001 01", r.NeighbourDiscoverySet()),
    ("flow control set", "D0F9EE5D 210A 0005 0344 0001 01", r.FlowControlSet()),
    ("port opened", "D0F9EE5D 2005 0005 033E 0001 01", r.PortOpened()),
    ("port closed", "D0F9EE5D 2006 0005 033F 0001 01", r.PortClosed()),
    ("scan done", "D0F9EE5D 2051 0005 038A 0001 01", r.ScanDone()),
    ("initial settings done", "D0F9EE5D 205F 0005 0398 0001 01", r.InitialSettingsDone()),
    ("credentials set", "D0F9EE5D 2054 0005 038D 0001 01", r.CredentialsSet()),
]
GOLDEN = AN_FRAMES + VECTORS


@pytest.mark.parametrize(("name", "text", "message"), GOLDEN, ids=[g[0] for g in GOLDEN])
def test_golden_frame_decodes_and_reencodes(name: str, text: str, message: object) -> None:
    raw = _hex(text)
    decoded = decode_bytes(raw)
    assert decoded == message
    assert encode(decoded) == raw
    assert encode(message) == raw  # type: ignore[arg-type]


def test_worked_checksums_of_section_2_3() -> None:
    # §2.3: 825 + 0x0E + 0x04 = 843 = 0x034B; 928 = 0x03A0 with data sum 9; 920 = 0x0398.
    assert encode(q.GetMacAddress())[8:12] == _hex("034B 0000")
    assert encode(q.InitialSettings(4))[8:12] == _hex("03A0 0009")
    assert encode(r.InitialSettingsDone())[8:12] == _hex("0398 0001")


@pytest.mark.parametrize(
    ("name", "text"),
    [
        # §12.3: AKGO/AKPS send 0x00D9 and 0x005F with zero checksums.
        ("AKGO reset, zero sums", "D0EA83FC 00D9 0004 0000 0000"),
        ("AKGO initial settings, zero sums", "D0EA83FC 005F 0008 0000 0000 05 00 04 00"),
        # §12.3: AKGO CommandBRouteTerminate: code 0x0053 with 0x0058's checksum.
        ("AKGO terminate, wrong code", "D0EA83FC 0053 0004 0395 0000"),
    ],
)
def test_frames_that_do_not_check_are_rejected(name: str, text: str) -> None:
    with pytest.raises(J11FrameError) as caught:
        decode_frame(_hex(text))
    assert caught.value.kind == FrameFault.HEADER_CHECKSUM


def test_a_wrong_data_checksum_is_rejected() -> None:
    # §12.3 AKGO 0x005F with the right header sum but a zero data sum.
    with pytest.raises(J11FrameError) as caught:
        decode_frame(_hex("D0EA83FC 005F 0008 03A0 0000 05 00 04 00"))
    assert caught.value.kind == FrameFault.DATA_CHECKSUM
    assert caught.value.command == 0x005F


def test_published_vectors_the_module_would_refuse() -> None:
    # §12.2: three of TOSA's synthetic vectors check as frames but carry values the module
    # refuses (§2.10.5): channel masks with bits outside 4..17, an ID of letters past F (§7.2).
    with pytest.raises(J11DecodeError) as caught:
        decode_bytes(_hex("D0EA83FC 0051 000A 0394 0116 02 12345678 00"))
    assert caught.value.result == Result.INVALID_PARAMETER
    with pytest.raises(J11DecodeError) as caught:
        decode_bytes(
            _hex("D0EA83FC 0054 0030 03BD 0BDE")
            + b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
            + b"0123456789ab"
        )
    assert caught.value.result == Result.INVALID_PARAMETER
    assert "ABCDEFGH" not in str(caught.value)  # the refused credentials never print
    with pytest.raises(J11DecodeError) as caught:
        decode_bytes(_hex("D0EA83FC 0051 0012 039C 054F 02 12345678 01 123456789ABCDEF0"))
    assert caught.value.result == Result.INVALID_PARAMETER


def test_the_an_get_frame_carries_the_echonet_get_it_claims() -> None:
    send = decode_bytes(_hex(AN["F20"]))
    assert isinstance(send, q.SendData)
    assert send.destination == link_local(AN_MAC)
    frame = decode_echonet(send.data)
    assert frame.esv is ESV.GET
    assert [p.epc for p in frame.properties] == [0xEA, 0xEB]
    answer = decode_bytes(_hex(AN["F22"]))
    assert isinstance(answer, n.DataReceived)
    assert mac_of(answer.source) == AN_MAC
    # F19 is an EA INF (a fixed-time push), not the instance list BJ11 labels it (§12.1).
    push = decode_bytes(_hex(AN["F19"]))
    assert isinstance(push, n.DataReceived)
    assert decode_echonet(push.data).esv is ESV.INF


def test_credentials_never_print() -> None:
    creds = q.SetCredentials(Secret(AN_ID), Secret("abcdefghijkl"))
    frame = creds.frame()
    for text in (repr(creds), str(creds), repr(frame), str(frame)):
        assert AN_ID not in text
        assert "abcdefghijkl" not in text
        assert AN_ID[-8:] not in text
    assert creds.stored_password.reveal() == "ABCDEFGHIJKL"  # J11IF 表32: upper-cased
    assert "0001" not in repr(r.EncryptionKey(bytes(16)))
    with pytest.raises(UsageError) as caught:
        q.SetCredentials(Secret(AN_ID.lower()), Secret(AN_PASSWORD))
    assert AN_ID.lower() not in str(caught.value)


def test_a_route_b_scan_uses_the_last_eight_characters_as_pairing_id() -> None:
    scan = q.ActiveScan.for_route_b(6, Secret(AN_ID))
    assert encode(scan) == _hex(AN["F7"])
    assert "CCDDEEFF" not in repr(scan.frame())


def test_the_scan_without_id_field_in_both_published_forms() -> None:
    # §4.3 / §14: TOSA omits the ID field with flag 0x00 (length 0x000A), BJ11 sends 8 zeros.
    bare = q.ActiveScan(2, 0x0003FFF0)
    padded = q.ActiveScan(2, 0x0003FFF0, ignored_id=bytes(8))
    assert encode(bare)[6:8] == b"\x00\x0a"
    assert encode(padded)[6:8] == b"\x00\x12"
    assert decode_bytes(encode(bare)) == bare
    assert decode_bytes(encode(padded)) == padded


def test_rejections_error_frames_and_unknown_codes() -> None:
    # §2.2 / §6: any result other than 0x01 is a Rejected; 0x2FFF and 0xFFFF are error frames.
    busy = Rejected.to(Command.SEND_DATA, Result.BUSY)
    assert decode_bytes(encode(busy)) == busy
    assert busy.code == 0x2008
    header = Rejected(Command.HEADER_CHECKSUM_ERROR, Result.HEADER_CHECKSUM)
    assert decode_bytes(encode(header)) == header
    unknown_result = decode_bytes(encode(Rejected(0x2005, Result(0x77))))
    assert isinstance(unknown_result, Rejected)
    assert not unknown_result.result.known
    assert unknown_result.result == 0x77
    # A code this codec does not know is kept raw, never an error.
    head = _hex("D0F9EE5D 4999 0006")
    raw = head + checksum(head).to_bytes(2, "big") + _hex("0002 0101")
    unknown = decode_bytes(raw)
    assert encode(unknown) == raw  # type: ignore[arg-type]
    with pytest.raises(UsageError):
        Rejected(0x2005, Result.SUCCESS)  # a success is not a rejection


def test_small_tables() -> None:
    assert [scan_dwell(d) for d in (6, 7, 8)] == pytest.approx([0.617, 1.234, 2.468], abs=1e-3)
    assert channel_to_skstack(4) == 0x21
    assert channel_to_skstack(12) == 0x31
    assert channel_to_skstack(17) == 0x3B
    assert channel_from_skstack(0x3B) == 17
    assert channel_from_skstack(0x22) is None
    assert link_local(AN_MAC) == AN_METER
    assert mac_of(ipaddress.IPv6Address("FF02::1")) is None
    assert SendOutcome(0x02) is SendOutcome.TX_LIMIT
    assert r.DataSent(0x25).outcome is SendOutcome.NO_ACK
    assert r.DataSent(0x25).queue == 2
    assert OperationMode(0xFF) is OperationMode.UNDECIDED
