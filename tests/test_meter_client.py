"""The meter client over an in-memory datagram link, against a small scripted meter."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from routeb.echonet import ESV, Frame, Property, decode_frame, encode_frame
from routeb.errors import RequestError, RouteBTimeoutError
from routeb.meter import (
    CONTROLLER,
    METER,
    NODE_PROFILE,
    ClientSettings,
    Priority,
    SmartMeterClient,
)
from routeb.transport.memory import DatagramEnd, LinkFaults, datagram_pair

FAST = ClientSettings(min_gap=0.0, timer1=0.2, timer2=0.3, retries=1)
VALUES = {
    0xD3: bytes.fromhex("00000001"),
    0xD7: b"\x06",
    0xE1: b"\x02",
    0xE7: bytes.fromhex("00000278"),
    0xE8: bytes.fromhex("001E0032"),
    0xE0: bytes.fromhex("0000FE73"),
    0xE3: bytes.fromhex("00000015"),
}

Responder = Callable[[Frame], Frame | None]


def meter_answer(cap: int = 6, lacks: frozenset[int] = frozenset()) -> Responder:
    """A meter that answers Gets from VALUES, refusing what it lacks and beyond `cap`."""

    def answer(request: Frame) -> Frame | None:
        if request.esv is not ESV.GET:
            return None
        props = []
        ok = True
        for i, prop in enumerate(request.properties):
            if i < cap and prop.epc in VALUES and prop.epc not in lacks:
                props.append(Property(prop.epc, VALUES[prop.epc]))
            else:
                props.append(Property(prop.epc))
                ok = False
        esv = ESV.GET_RES if ok else ESV.GET_SNA
        return Frame(request.tid, request.deoj, request.seoj, esv, tuple(props))

    return answer


async def serve(end: DatagramEnd, responder: Responder, log: list[Frame]) -> None:
    while True:
        datagram = await end.receive()
        request = decode_frame(datagram.data)
        assert isinstance(request, Frame)
        log.append(request)
        reply = responder(request)
        if reply is not None:
            await end.send(encode_frame(reply))


async def run_with(
    responder: Responder,
    body: Callable[[SmartMeterClient, list[Frame], DatagramEnd], object],
    settings: ClientSettings = FAST,
    faults: LinkFaults | None = None,
) -> list[Frame]:
    controller, meter = datagram_pair(faults=faults)
    client = SmartMeterClient(controller, settings)
    log: list[Frame] = []
    async with asyncio.TaskGroup() as group:
        receiver = group.create_task(client.run())
        server = group.create_task(serve(meter, responder, log))
        try:
            await body(client, log, meter)  # type: ignore[misc]
        finally:
            receiver.cancel()
            server.cancel()
    return log


async def test_multi_property_get_in_one_request() -> None:
    async def body(client: SmartMeterClient, log: list[Frame], _: DatagramEnd) -> None:
        result = await client.get([0xE7, 0xE8, 0xE0, 0xE3])
        assert result.values == {e: VALUES[e] for e in (0xE7, 0xE8, 0xE0, 0xE3)}
        assert not result.unavailable

    log = await run_with(meter_answer(), body)
    assert len(log) == 1
    assert log[0].seoj == CONTROLLER
    assert log[0].deoj == METER


async def test_batch_size_learned_from_partial_sna() -> None:
    async def body(client: SmartMeterClient, log: list[Frame], _: DatagramEnd) -> None:
        epcs = [0xD3, 0xD7, 0xE1, 0xE7, 0xE8, 0xE0]
        result = await client.get(epcs)
        assert list(result.values) == epcs
        assert client.stats.learned_batch == 2
        log.clear()
        await client.get(epcs)
        assert [len(f.properties) for f in log] == [2, 2, 2]

    await run_with(meter_answer(cap=2), body)


async def test_missing_property_is_not_mistaken_for_a_cap() -> None:
    async def body(client: SmartMeterClient, _: list[Frame], __: DatagramEnd) -> None:
        result = await client.get([0xD7, 0xE1, 0xD3])
        assert result.unavailable == {0xD3}
        assert set(result.values) == {0xD7, 0xE1}
        assert client.stats.learned_batch is None
        result = await client.get([0xD3, 0xD7])
        assert result.unavailable == {0xD3}

    await run_with(meter_answer(lacks=frozenset({0xD3})), body)


async def test_timeout_retries_then_typed_error() -> None:
    async def body(client: SmartMeterClient, log: list[Frame], _: DatagramEnd) -> None:
        with pytest.raises(RouteBTimeoutError):
            await client.get([0xE7])
        assert len(log) == 2  # one retransmission, with a TID of its own (RTT unambiguous)
        assert log[0].tid != log[1].tid
        assert client.stats.timeouts == 1

    await run_with(lambda _: None, body)


async def test_late_answer_to_an_earlier_attempt_counts() -> None:
    """The first attempt's answer arrives after the retransmission: it answers the request,
    and the round trip is measured from that attempt's own send."""
    delayed: list[Frame] = []

    def first_late(request: Frame) -> Frame | None:
        if request.tid == 1:
            delayed.append(request)
            return None  # held back, sent by the body after the retransmission
        return None  # the retransmission is lost

    async def body(client: SmartMeterClient, log: list[Frame], meter: DatagramEnd) -> None:
        task = asyncio.ensure_future(client.get([0xE7]))
        while len(log) < 2:
            await asyncio.sleep(0.01)
        late = meter_answer()(delayed[0])
        assert late is not None
        await meter.send(encode_frame(late))
        result = await asyncio.wait_for(task, 1)
        assert result.values[0xE7] == VALUES[0xE7]
        assert client.stats.late_answers == 1
        assert client.stats.srtt is not None
        assert client.stats.srtt >= 0.2

    await run_with(first_late, body, ClientSettings(min_gap=0.0, timer1=0.2, timer2=0.3, retries=3))


async def test_responses_must_match_tid_eoj_and_epcs() -> None:
    def wrong(request: Frame) -> Frame | None:
        good = meter_answer()(request)
        assert good is not None
        return Frame((good.tid + 1) & 0xFFFF, good.seoj, good.deoj, good.esv, good.properties)

    async def body(client: SmartMeterClient, _: list[Frame], __: DatagramEnd) -> None:
        with pytest.raises(RouteBTimeoutError):
            await client.get([0xE7])
        assert client.stats.unmatched >= 1

    await run_with(wrong, body)


async def test_min_gap_between_requests() -> None:
    async def body(client: SmartMeterClient, _: list[Frame], __: DatagramEnd) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        await client.get([0xE7])
        await client.get([0xE7])
        await client.get([0xE7])
        assert loop.time() - start >= 0.2

    await run_with(meter_answer(), body, ClientSettings(min_gap=0.1, timer1=1, timer2=1))


async def test_inf_and_infc_notifications() -> None:
    async def body(client: SmartMeterClient, log: list[Frame], meter: DatagramEnd) -> None:
        stream = client.notifications()
        first = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0)
        ea = Property(0xEA, bytes.fromhex("07EA05140E0000" + "0000FE68"))
        await meter.send(encode_frame(Frame(0x362, METER, CONTROLLER, ESV.INFC, (ea,))))
        note = await asyncio.wait_for(first, 1)
        assert note.frame.first(0xEA) == ea
        await asyncio.sleep(0.05)
        # INFC is answered with INFC_Res, same EPCs, PDC = 0 (§A.3).
        assert log[-1].esv is ESV.INFC_RES
        assert log[-1].properties == (Property(0xEA),)
        d5 = Property(0xD5, bytes.fromhex("01028801"))
        await meter.send(encode_frame(Frame(0, NODE_PROFILE, NODE_PROFILE, ESV.INF, (d5,))))
        assert (await asyncio.wait_for(anext(stream), 1)).frame.first(0xD5) == d5
        assert client.d5_seen.is_set()
        await stream.aclose()

    await run_with(lambda _: None, body)


async def test_inf_req_fallback_when_no_d5() -> None:
    def answer_inf_req(request: Frame) -> Frame | None:
        if request.esv is ESV.INF_REQ:
            d5 = Property(0xD5, bytes.fromhex("01028801"))
            return Frame(request.tid, request.deoj, request.seoj, ESV.INF, (d5,))
        return None

    async def body(client: SmartMeterClient, log: list[Frame], _: DatagramEnd) -> None:
        assert await client.wait_instance_list(d5_wait=0.05)
        assert log[0].esv is ESV.INF_REQ
        assert log[0].deoj == NODE_PROFILE

    await run_with(answer_inf_req, body)


async def test_history_pair_is_atomic_and_refusal_is_typed() -> None:
    e2 = bytes(2) + bytes.fromhex("0000F766") * 48

    def history(request: Frame) -> Frame | None:
        if request.esv is ESV.SETC:
            ok = request.properties[0].edt[0] <= 99
            esv = ESV.SET_RES if ok else ESV.SETC_SNA
            prop = Property(0xE5) if ok else request.properties[0]
            return Frame(request.tid, request.deoj, request.seoj, esv, (prop,))
        return Frame(request.tid, request.deoj, request.seoj, ESV.GET_RES, (Property(0xE2, e2),))

    async def body(client: SmartMeterClient, log: list[Frame], _: DatagramEnd) -> None:
        results = await asyncio.gather(
            client.set_then_get(0xE5, b"\x01", [0xE2]),
            client.set_then_get(0xE5, b"\x02", [0xE2]),
        )
        assert all(r.values[0xE2] == e2 for r in results)
        assert [f.esv for f in log] == [ESV.SETC, ESV.GET, ESV.SETC, ESV.GET]
        with pytest.raises(RequestError):
            await client.set_then_get(0xE5, b"\xf0", [0xE2])

    await run_with(history, body)


async def test_lossy_link_recovers_by_retransmission() -> None:
    async def body(client: SmartMeterClient, _: list[Frame], __: DatagramEnd) -> None:
        ok = 0
        for _i in range(10):
            try:
                await client.get([0xE7])
                ok += 1
            except RouteBTimeoutError:
                pass
        assert ok >= 7
        assert client.stats.retransmissions >= 1

    settings = ClientSettings(min_gap=0.0, timer1=0.05, timer2=0.05, retries=3)
    await run_with(
        meter_answer(), body, settings, LinkFaults(drop_probability=0.3, delay=0.001, seed=3)
    )


async def test_malformed_frames_are_counted_not_fatal() -> None:
    async def body(client: SmartMeterClient, _: list[Frame], meter: DatagramEnd) -> None:
        await meter.send(b"\x10\x81\x00")
        await meter.send(b"garbage")
        await asyncio.sleep(0.01)
        assert client.stats.malformed == 2
        assert (await client.get([0xE7])).values[0xE7] == VALUES[0xE7]

    await run_with(meter_answer(), body)


async def test_a_multi_property_get_that_keeps_failing_is_split() -> None:
    """A meter (at the edge of range) that never gets a two-EPC answer through: after two
    failed requests the batch is asked in halves, and the values come."""

    def singles_only(request: Frame) -> Frame | None:
        return meter_answer()(request) if len(request.properties) == 1 else None

    async def body(client: SmartMeterClient, log: list[Frame], _: DatagramEnd) -> None:
        with pytest.raises(RouteBTimeoutError):
            await client.get([0xE7, 0xE8])
        result = await client.get([0xE7, 0xE8])  # fails whole, then split at once
        assert result.values == {0xE7: VALUES[0xE7], 0xE8: VALUES[0xE8]}
        assert client.stats.split_batches == 1
        log.clear()
        await client.get([0xE7, 0xE8])
        assert [len(f.properties) for f in log] == [1, 1]

    await run_with(singles_only, body)


async def test_a_live_poll_is_not_queued_behind_a_stalled_history_request() -> None:
    """History goes unanswered; a live Get asked meanwhile is sent after the history's
    current attempt, not after all of its retries (and never beside it)."""

    def no_history(request: Frame) -> Frame | None:
        return None if request.esv is ESV.SETC else meter_answer()(request)

    async def body(client: SmartMeterClient, log: list[Frame], _: DatagramEnd) -> None:
        loop = asyncio.get_running_loop()
        history = asyncio.ensure_future(
            client.set_then_get(0xE5, b"\x01", [0xE2], priority=Priority.BACKGROUND)
        )
        await asyncio.sleep(0.05)
        start = loop.time()
        await client.get([0xE7])
        assert loop.time() - start < 0.5  # one history attempt (0.2 s), not three (0.6 s)
        assert client.stats.yielded >= 1
        with pytest.raises(RouteBTimeoutError):
            await history
        # Strictly alternating: never a second request before the first one's timer ran out.
        assert [f.esv for f in log[:3]] == [ESV.SETC, ESV.GET, ESV.SETC]

    await run_with(no_history, body, ClientSettings(min_gap=0.0, timer1=0.2, timer2=0.3))


async def test_a_live_poll_gives_up_at_its_deadline() -> None:
    async def body(client: SmartMeterClient, log: list[Frame], _: DatagramEnd) -> None:
        loop = asyncio.get_running_loop()
        start = loop.time()
        with pytest.raises(RouteBTimeoutError):
            await client.get([0xE7, 0xE8], deadline=start + 2.0)
        # The first timer (4 s before any round trip is known) is clipped at the deadline,
        # not Timer 2 × 3 = 180 s; no second attempt without time for its answer.
        assert 1.8 < loop.time() - start < 2.5
        assert len(log) == 1

    await run_with(lambda _: None, body, ClientSettings(min_gap=0.0))


async def test_the_outstanding_request_is_resent_when_the_link_comes_back() -> None:
    """strict AIF (a 20-s timer): the link's ready signal resends at once (issue 16 §4)."""
    answers: list[Frame] = []

    def second_only(request: Frame) -> Frame | None:
        answers.append(request)
        return meter_answer()(request) if len(answers) > 1 else None

    async def body(client: SmartMeterClient, log: list[Frame], _: DatagramEnd) -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(client.get([0xE7]))
        while not log:
            await asyncio.sleep(0.01)
        start = loop.time()
        client.link_restored()
        await asyncio.wait_for(task, 1.0)
        assert loop.time() - start < 0.5
        assert client.stats.resent_on_rejoin == 1

    await run_with(second_only, body, ClientSettings(min_gap=0.0, strict_aif=True))
