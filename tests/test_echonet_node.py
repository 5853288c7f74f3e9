"""The device-side node: every answer rule of protocol.md §A.3/§A.4, and truthful maps."""

from __future__ import annotations

from routeb.echonet import EOJ, ESV, Frame, Property, decode_property_map
from routeb.echonet.node import NODE_PROFILE_EOJ, Node, StaticObject, node_profile_object

CONTROLLER = EOJ(0x05, 0xFF, 0x01)
METER = EOJ(0x02, 0x88, 0x01)


def make_node(max_properties: int = 255) -> tuple[Node, StaticObject]:
    meter = StaticObject(
        METER,
        {0x80: b"\x30", 0xE7: bytes.fromhex("00000278"), 0xE5: b"\xff"},
        writable={0xE5: lambda edt: len(edt) == 1 and edt[0] <= 99},
        announced=frozenset({0x80}),
    )
    profile = node_profile_object(b"\xfe\x00\x00\x16" + bytes(13), b"\x00\x00\x16", [METER])
    return Node([profile, meter], max_properties=max_properties), meter


def request(esv: ESV, props: tuple[Property, ...], deoj: EOJ = METER, gets=()) -> Frame:  # type: ignore[no-untyped-def]
    return Frame(0x1234, CONTROLLER, deoj, esv, props, gets)


def test_get_res_and_get_sna_with_pdc_zero() -> None:
    node, _ = make_node()
    (reply,) = node.handle(request(ESV.GET, (Property(0xE7),)))
    assert reply == Frame(
        0x1234, METER, CONTROLLER, ESV.GET_RES, (Property(0xE7, bytes.fromhex("00000278")),)
    )
    (reply,) = node.handle(request(ESV.GET, (Property(0xE7), Property(0xD3))))
    assert reply.esv is ESV.GET_SNA
    assert reply.properties[1] == Property(0xD3)


def test_setc_accept_and_refuse_echoes_edt() -> None:
    node, meter = make_node()
    (reply,) = node.handle(request(ESV.SETC, (Property(0xE5, b"\x02"),)))
    assert reply.esv is ESV.SET_RES
    assert reply.properties == (Property(0xE5),)
    assert meter.values[0xE5] == b"\x02"
    (reply,) = node.handle(request(ESV.SETC, (Property(0xE5, b"\x70"),)))
    assert reply.esv is ESV.SETC_SNA
    assert reply.properties == (Property(0xE5, b"\x70"),)
    assert meter.values[0xE5] == b"\x02"
    (reply,) = node.handle(request(ESV.SETC, (Property(0xE7, b"\x00\x00\x00\x01"),)))
    assert reply.esv is ESV.SETC_SNA  # read-only


def test_seti_silent_on_success_sna_on_failure() -> None:
    node, meter = make_node()
    assert node.handle(request(ESV.SETI, (Property(0xE5, b"\x03"),))) == []
    assert meter.values[0xE5] == b"\x03"
    (reply,) = node.handle(request(ESV.SETI, (Property(0xE5, b"\xff"),)))
    assert reply.esv is ESV.SETI_SNA


def test_setget_inf_req_infc() -> None:
    node, _ = make_node()
    (reply,) = node.handle(request(ESV.SETGET, (Property(0xE5, b"\x01"),), gets=(Property(0xE5),)))
    assert reply.esv is ESV.SETGET_RES
    assert reply.properties == (Property(0xE5),)
    assert reply.get_properties == (Property(0xE5, b"\x01"),)
    (reply,) = node.handle(request(ESV.INF_REQ, (Property(0xD5),), NODE_PROFILE_EOJ))
    assert reply.esv is ESV.INF
    assert reply.properties[0].edt == bytes.fromhex("01028801")
    (reply,) = node.handle(request(ESV.INFC, (Property(0x80, b"\x30"),)))
    assert reply.esv is ESV.INFC_RES
    assert reply.properties == (Property(0x80),)


def test_unknown_deoj_is_silent_and_instance_zero_reaches_all() -> None:
    node, _ = make_node()
    assert node.handle(request(ESV.GET, (Property(0xE7),), EOJ(0x02, 0x88, 0x02))) == []
    assert len(node.handle(request(ESV.GET, (Property(0xE7),), EOJ(0x02, 0x88, 0x00)))) == 1


def test_max_properties_gives_partial_sna() -> None:
    node, _ = make_node(max_properties=1)
    (reply,) = node.handle(request(ESV.GET, (Property(0x80), Property(0xE7))))
    assert reply.esv is ESV.GET_SNA
    assert reply.properties[0].pdc == 1
    assert reply.properties[1].pdc == 0


def test_maps_and_profile_are_truthful() -> None:
    node, _ = make_node()
    (reply,) = node.handle(request(ESV.GET, (Property(0x9E), Property(0x9F))))
    assert decode_property_map(reply.properties[0].edt) == (0xE5,)
    assert set(decode_property_map(reply.properties[1].edt)) == {0x80, 0xE7, 0xE5, 0x9D, 0x9E, 0x9F}
    (reply,) = node.handle(
        request(ESV.GET, (Property(0xD3), Property(0xD4), Property(0xD7)), NODE_PROFILE_EOJ)
    )
    assert [p.edt.hex() for p in reply.properties] == ["000001", "0002", "010288"]


def test_notification() -> None:
    node, _ = make_node()
    inf = node.notification(NODE_PROFILE_EOJ, [0xD5], 0, NODE_PROFILE_EOJ)
    assert inf is not None
    assert inf.esv is ESV.INF
    assert node.notification(METER, [0xD3], 0, CONTROLLER) is None
