"""`routeb decode`: every real-meter vector of protocol.md §F decodes to the values stated there."""

from __future__ import annotations

import io
import json
import sys

import pytest

from routeb.cli import main
from routeb.cli.decode import split_inputs

METER = "FE80:0000:0000:0000:021D:1290:1234:5678"
ME = "FE80:0000:0000:0000:021D:1290:0003:C890"

# protocol.md §F, verbatim (spaces and all).
VECTORS = {
    "d3": "1081 0001 028801 05FF01 72 01 D3 04 00000001",
    "d3_sna": "1081 0001 028801 05FF01 52 01 D3 00",
    "d7": "1081 0001 028801 05FF01 72 01 D7 01 06",
    "e1": "1081 0001 028801 05FF01 72 01 E1 01 02",
    "e0": "1081 0001 028801 05FF01 72 01 E0 04 0000FE73",
    "e7": "1081 0001 028801 05FF01 72 01 E7 04 00000278",
    "e8": "1081 0001 028801 05FF01 72 01 E8 04 001E 0032",
    "ea": "1081 0001 028801 05FF01 72 01 EA 0B 07EA 05 14 0E 00 00 0000FE68",
    "82": "1081 0001 028801 05FF01 72 01 82 04 00 00 46 00",
    "8a": "1081 0001 028801 05FF01 72 01 8A 03 000016",
    "maps": "1081 0001 028801 05FF01 72 03 9D 04 03808188 9E 04 0381E5ED "
    "9F 11 19 41414160404000624300414040430202",
    "d5": "1081 0000 0EF001 0EF001 73 01 D5 04 01 028801",
    "push": "1081 0362 028801 05FF01 73 01 EA 0B 07E6 08 01 14 1E 00 00012D02",
    "push2": "1081 0001 028801 05FF01 73 02 EA 0B 07E70C13001E00 0000458E "
    "EB 0B 07E70C13001E00 00000015",
    "get": "1081 5253 05FF01 028801 62 01 E7 00",
}


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, object]], str]:
    status = main(["decode", "--json", *args])
    out, err = capsys.readouterr()
    return status, [json.loads(line) for line in out.splitlines()], err


def values(doc: dict[str, object]) -> dict[str, object]:
    return {p["epc"]: p["value"] for p in doc["properties"]}  # type: ignore[attr-defined,index]


def test_every_section_f_vector(capsys: pytest.CaptureFixture[str]) -> None:
    status, docs, err = run(capsys, *VECTORS.values())
    assert status == 0, err
    d = dict(zip(VECTORS, docs, strict=True))
    assert values(d["d3"]) == {"0xD3": 1}
    assert d["d3_sna"]["esv"] == "GET_SNA"
    assert d["d3_sna"]["properties"] == [  # type: ignore[comparison-overlap]
        {"epc": "0xD3", "name": "Coefficient", "edt": None, "value": None}
    ]
    assert values(d["d7"]) == {"0xD7": 6}
    assert values(d["e1"]) == {"0xE1": {"code": 2, "kwh": 0.01}}
    # E1 = 0.01 kWh and D3 = 1 came earlier in the batch: E0 is scaled with them.
    assert values(d["e0"]) == {"0xE0": {"raw": 0xFE73, "kwh": 651.39}}
    assert values(d["e7"]) == {"0xE7": 632}
    assert values(d["e8"]) == {"0xE8": {"r": 3.0, "t": 5.0, "single_phase_two_wire": False}}
    assert values(d["ea"]) == {
        "0xEA": {"timestamp": "2026-05-20T14:00:00", "raw": 65128, "kwh": 651.28}
    }
    assert values(d["82"]) == {"0x82": {"release": "F", "revision": 0, "text": "Release F rev 0"}}
    assert values(d["8a"]) == {"0x8A": {"code": 0x16, "text": "0x000016"}}
    maps = values(d["maps"])
    assert maps["0x9D"] == ["0x80", "0x81", "0x88"]
    assert maps["0x9E"] == ["0x81", "0xE5", "0xED"]
    assert len(maps["0x9F"]) == 25  # type: ignore[arg-type]
    assert d["d5"]["seoj"] == "0EF001"
    assert values(d["d5"]) == {"0xD5": ["028801"]}
    assert values(d["push"])["0xEA"] == {
        "timestamp": "2022-08-01T20:30:00",
        "raw": 0x12D02,
        "kwh": 770.58,
    }
    push2 = values(d["push2"])
    assert push2["0xEB"] == {"timestamp": "2023-12-19T00:30:00", "raw": 0x15, "kwh": 0.21}
    assert d["get"]["esv"] == "GET"
    assert d["get"]["tid"] == "5253"


def test_exact_decimal_digits_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    main(["decode", "--json", "--unit", "0.0001", "1081000102880105FF017201E00405F5E0FF"])
    out = capsys.readouterr().out
    assert '"kwh": 9999.9999' in out
    assert json.loads(out)["properties"][0]["value"]["kwh"] == 9999.9999


def test_without_scale_the_raw_count_is_shown(capsys: pytest.CaptureFixture[str]) -> None:
    _, docs, _ = run(capsys, VECTORS["e0"])
    assert values(docs[0]) == {"0xE0": {"raw": 0xFE73, "kwh": None}}
    _, docs, _ = run(capsys, "--coefficient", "10", "--unit", "0x01", VECTORS["e0"])
    assert values(docs[0])["0xE0"] == {"raw": 0xFE73, "kwh": 65139.0}  # 65139 × 10 × 0.1


@pytest.mark.parametrize(
    "line",
    [
        f"ERXUDP {METER} {ME} 0E1A 0E1A 001D129012345678 1 0012 "
        "1081000102880105FF017201E704000004A8",
        f"ERXUDP {METER} {ME} 0E1A 0E1A 001D129012345678 1 0 0012 "
        "1081000102880105FF017201E704000004A8",
        f"ERXUDP {METER} {ME} 0E1A 0E1A 001D129012345678 B2 1 0 0012 "
        "1081000102880105FF017201E704000004A8",
    ],
)
def test_erxudp_lines_in_every_layout(capsys: pytest.CaptureFixture[str], line: str) -> None:
    status, docs, _ = run(capsys, line)
    assert status == 0
    assert docs[0]["sender"] == METER
    assert docs[0]["secured"] == 1
    assert values(docs[0]) == {"0xE7": 1192}
    assert ("rssi" in docs[0]) == (" B2 " in line)


def test_binary_erxudp_from_stdin(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = bytes.fromhex("1081000D02880105FF017201E704000D0A0D")  # EDT holds CR LF bytes
    line = (
        f"ERXUDP {METER} {ME} 0E1A 0E1A 001D129012345678 1 {len(frame):04X} ".encode()
        + frame
        + b"\r\n"
    )
    data = line + VECTORS["e7"].encode() + b"\n"
    assert len(split_inputs(data)) == 2
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    status, docs, _ = run(capsys, "-")
    assert status == 0
    assert values(docs[0]) == {"0xE7": 0x000D0A0D}
    assert values(docs[1]) == {"0xE7": 632}


def test_bad_input_is_reported_and_others_still_decoded(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, docs, err = run(
        capsys, "1081 0001 0288", VECTORS["e7"], "1081 00zz", "1081000102880105FF017201E703000000"
    )
    assert status == 2
    assert len(docs) == 2  # the E7 vector, and the frame whose EDT is wrong
    assert values(docs[0]) == {"0xE7": 632}
    assert docs[1]["properties"][0]["error"]  # type: ignore[index]
    lines = err.splitlines()
    assert lines[0].startswith("routeb decode: input 1:")
    assert "offset" in lines[0]
    assert any(line.startswith("routeb decode: input 3:") and "offset 3" in line for line in lines)
    assert any("input 4" in line and "0xE7" in line for line in lines)


def test_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", VECTORS["e1"], VECTORS["ea"], VECTORS["e8"]]) == 0
    out = capsys.readouterr().out
    assert "651.28 kWh (raw 65128) at 2026-05-20 14:00:00" in out
    assert "R 3.0 A, T 5.0 A" in out
