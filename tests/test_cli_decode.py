"""`routeb decode`: every real-meter frame of protocol.md §F decodes to the values stated there;
ERXUDP lines of every module dialect (§D.4) with hex or raw binary data; scaling across a batch;
bad input reported with its offset while every other input is still decoded."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from decimal import Decimal
from typing import Any

import pytest

from routeb.cli import main
from routeb.cli.decode import split_inputs

METER = "FE80:0000:0000:0000:021D:1290:1234:5678"
ME = "FE80:0000:0000:0000:021D:1290:0003:C890"
MAC = "001D129012345678"

# protocol.md §F, verbatim (spaces and all).
F = {
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
    "e2": "1081 0001 028801 05FF01 72 01 E2 C2 000B 0000F766 0000F768"
    + "".join(f" {0xF768 + 2 * i:08X}" for i in range(1, 47)),
    "d5": "1081 0000 0EF001 0EF001 73 01 D5 04 01 028801",
    "push": "1081 0362 028801 05FF01 73 01 EA 0B 07E6 08 01 14 1E 00 00012D02",
    "push2": "1081 0001 028801 05FF01 73 02 EA 0B 07E70C13001E00 0000458E "
    "EB 0B 07E70C13001E00 00000015",
    "get": "1081 5253 05FF01 028801 62 01 E7 00",
}
# §A.5: the 25 EPCs of the real meter's Get map.
GET_MAP = ["0x80", "0x81", "0x82", "0x88", "0x8A", "0x8D", "0x97", "0x98", "0x9D", "0x9E",
           "0x9F", "0xD3", "0xD7", "0xE0", "0xE1", "0xE2", "0xE3", "0xE4", "0xE5", "0xE7",
           "0xE8", "0xEA", "0xEB", "0xEC", "0xED"]  # fmt: skip
E7_FRAME = "1081000102880105FF017201E704000004A8"  # §D.5: E7 = 1192 W


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[Any], str]:
    status = main(["decode", "--json", *args])
    out, err = capsys.readouterr()
    return status, [json.loads(line, parse_float=Decimal) for line in out.splitlines()], err


def values(doc: dict[str, Any]) -> dict[str, Any]:
    return {p["epc"]: p["value"] for p in doc["properties"]}


def test_every_section_f_frame_in_one_batch(capsys: pytest.CaptureFixture[str]) -> None:
    status, docs, err = run(capsys, *F.values())
    assert status == 0, err
    assert err == ""
    d = dict(zip(F, docs, strict=True))
    for name, doc in d.items():
        assert set(doc) >= {"tid", "seoj", "deoj", "esv", "properties"}, name
    assert d["d3"]["esv"] == "GET_RES"
    assert d["d3"]["seoj"] == "028801"
    assert d["d3"]["deoj"] == "05FF01"
    assert values(d["d3"]) == {"0xD3": 1}
    assert d["d3"]["properties"][0]["name"] == "Coefficient"
    assert d["d3"]["properties"][0]["edt"] == "00000001"
    assert d["d3_sna"]["esv"] == "GET_SNA"
    assert d["d3_sna"]["properties"] == [
        {"epc": "0xD3", "name": "Coefficient", "edt": None, "value": None}
    ]
    assert values(d["d7"]) == {"0xD7": 6}
    assert values(d["e1"]) == {"0xE1": {"code": 2, "kwh": Decimal("0.01")}}
    # E1 = 0.01 kWh came earlier in the batch (and D3 was refused: 1): E0 is scaled.
    assert values(d["e0"]) == {"0xE0": {"raw": 0xFE73, "kwh": Decimal("651.39")}}
    assert values(d["e7"]) == {"0xE7": 632}
    assert d["e7"]["properties"][0]["unit"] == "W"
    assert values(d["e8"]) == {
        "0xE8": {"r": Decimal("3.0"), "t": Decimal("5.0"), "single_phase_two_wire": False}
    }
    assert values(d["ea"]) == {
        "0xEA": {"timestamp": "2026-05-20T14:00:00", "raw": 65128, "kwh": Decimal("651.28")}
    }
    assert values(d["82"]) == {"0x82": {"release": "F", "revision": 0, "text": "Release F rev 0"}}
    assert values(d["8a"]) == {"0x8A": {"code": 0x16, "text": "0x000016"}}
    maps = values(d["maps"])
    assert maps["0x9D"] == ["0x80", "0x81", "0x88"]
    assert maps["0x9E"] == ["0x81", "0xE5", "0xED"]
    assert maps["0x9F"] == GET_MAP
    history = values(d["e2"])["0xE2"]
    assert history["day"] == 11
    assert len(history["slots"]) == 48
    assert history["slots"][0] == {
        "slot": 0,
        "time": "00:00",
        "raw": 0xF766,
        "kwh": Decimal("633.34"),
    }
    assert history["slots"][1]["raw"] == 0xF768
    assert history["slots"][47]["time"] == "23:30"
    assert d["d5"]["seoj"] == "0EF001"
    assert d["d5"]["esv"] == "INF"
    assert d["d5"]["tid"] == "0000"
    assert values(d["d5"]) == {"0xD5": ["028801"]}
    assert d["d5"]["properties"][0]["name"] == "Instance list notification"
    assert d["push"]["tid"] == "0362"
    assert values(d["push"]) == {
        "0xEA": {"timestamp": "2022-08-01T20:30:00", "raw": 0x12D02, "kwh": Decimal("770.58")}
    }
    push2 = values(d["push2"])
    assert push2["0xEA"] == {
        "timestamp": "2023-12-19T00:30:00",
        "raw": 0x458E,
        "kwh": Decimal("178.06"),
    }
    assert push2["0xEB"] == {
        "timestamp": "2023-12-19T00:30:00",
        "raw": 0x15,
        "kwh": Decimal("0.21"),
    }
    assert d["get"]["esv"] == "GET"
    assert d["get"]["tid"] == "5253"
    assert d["get"]["properties"] == [
        {
            "epc": "0xE7",
            "name": "Measured instantaneous electric power",
            "edt": None,
            "value": None,
            "unit": "W",
        }
    ]


def test_ea_alone_shows_the_raw_count_and_no_kwh(capsys: pytest.CaptureFixture[str]) -> None:
    _, docs, _ = run(capsys, F["ea"])
    assert values(docs[0])["0xEA"] == {
        "timestamp": "2026-05-20T14:00:00",
        "raw": 65128,
        "kwh": None,
    }


def test_options_scale_until_the_meter_says_otherwise(capsys: pytest.CaptureFixture[str]) -> None:
    _, docs, _ = run(capsys, "--coefficient", "10", "--unit", "0x01", F["e0"])
    assert values(docs[0])["0xE0"] == {"raw": 0xFE73, "kwh": Decimal("65139.0")}  # × 10 × 0.1
    _, docs, _ = run(capsys, "--unit", "0.001", F["e0"], F["d3"], F["e1"], F["e0"])
    assert values(docs[0])["0xE0"]["kwh"] == Decimal("65.139")  # the option
    assert values(docs[3])["0xE0"]["kwh"] == Decimal("651.39")  # the meter's own D3 × E1
    # A meter without D3 (Get_SNA): the coefficient counts as 1, whatever the option said.
    _, docs, _ = run(capsys, "--coefficient", "10", "--unit", "0.01", F["d3_sna"], F["e0"])
    assert values(docs[1])["0xE0"]["kwh"] == Decimal("651.39")
    d3_100 = "1081000102880105FF017201D30400000064"
    _, docs, _ = run(capsys, d3_100, F["e1"], F["e0"])
    assert values(docs[2])["0xE0"]["kwh"] == Decimal("65139.00")


def test_an_undefined_unit_is_unknown_never_guessed(capsys: pytest.CaptureFixture[str]) -> None:
    undefined_e1 = "1081000102880105FF017201E10105"
    status, docs, _ = run(capsys, "--unit", "0.01", undefined_e1, F["e0"])
    assert status == 0
    assert values(docs[0])["0xE1"] == {"code": 5, "kwh": None}
    assert values(docs[1])["0xE0"] == {"raw": 0xFE73, "kwh": None}


def test_a_request_teaches_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    # A SetC from a controller carrying E1 is not the meter's own value.
    set_e1 = "108100AA05FF010288016101E10102"
    _, docs, _ = run(capsys, set_e1, F["e0"])
    assert docs[0]["esv"] == "SETC"
    assert values(docs[1])["0xE0"]["kwh"] is None


def test_exact_decimal_digits_in_json(capsys: pytest.CaptureFixture[str]) -> None:
    main(["decode", "--json", "--unit", "0.0001", "1081000102880105FF017201E00405F5E0FF"])
    out = capsys.readouterr().out
    assert '"kwh": 9999.9999' in out
    main(["decode", "--json", "--coefficient", "999999", "--unit", "10000", F["e0"]])
    out = capsys.readouterr().out
    assert '"kwh": 651389348610000' in out  # 65139 × 999999 × 10000, exactly


def test_no_data_sentinels_are_null(capsys: pytest.CaptureFixture[str]) -> None:
    status, docs, _ = run(
        capsys,
        "--unit",
        "0.01",
        "1081000102880105FF017201E004FFFFFFFE",
        "1081000102880105FF017201E7047FFFFFFE",
        "1081000102880105FF017201E80400627FFE",
        "1081000102880105FF017201EA0B07EA05140E0000FFFFFFFE",
        "1081000102880105FF017201E5" + "01FF",
    )
    assert status == 0
    assert values(docs[0]) == {"0xE0": None}
    assert values(docs[1]) == {"0xE7": None}
    assert values(docs[2])["0xE8"] == {
        "r": Decimal("9.8"),
        "t": None,
        "single_phase_two_wire": True,
    }
    assert values(docs[3])["0xEA"] == {"timestamp": "2026-05-20T14:00:00", "raw": None, "kwh": None}
    assert values(docs[4]) == {"0xE5": None}


def test_node_profile_and_other_frames(capsys: pytest.CaptureFixture[str]) -> None:
    node = "1081 0001 0EF001 05FF01 72 04 D7 03 010288 D3 03 000001 D4 02 0002 82 04 010D0100"
    setget = "1081 0001 05FF01 028801 6E 01 E5 01 01 02 E2 00 E4 00"
    status, docs, err = run(capsys, node, setget, "1082 0001 DEADBEEF", "0x" + E7_FRAME)
    assert status == 0, err
    assert values(docs[0]) == {
        "0xD7": ["0x0288"],
        "0xD3": 1,
        "0xD4": 2,
        "0x82": {"major": 1, "minor": 13, "formats": 1, "text": "1.13"},
    }
    assert docs[0]["properties"][0]["name"] == "Self-node class list S"
    assert "unit" not in docs[0]["properties"][0]
    assert docs[1]["esv"] == "SETGET"
    assert values(docs[1]) == {"0xE5": 1}
    assert [p["epc"] for p in docs[1]["get_properties"]] == ["0xE2", "0xE4"]
    assert docs[2] == {"tid": "0001", "format": 2, "payload": "DEADBEEF"}
    assert values(docs[3]) == {"0xE7": 1192}


# --- ERXUDP lines ---------------------------------------------------------------------------------


def erxudp(frame: bytes, *, dialect: str, binary: bool) -> bytes:
    """An ERXUDP line (§D.4) of a module dialect: 9 fields (A1), 10 (C0/C2), 11 (SA2 = 1)."""
    fields = ["ERXUDP", METER, ME, "0E1A", "0E1A", MAC]
    if dialect == "rssi":
        fields.append("B2")
    fields.append("1")
    if dialect in ("c2", "rssi"):
        fields.append("0")
    fields.append(f"{len(frame):04X}")
    head = (" ".join(fields) + " ").encode("ascii")
    return head + (frame if binary else frame.hex().upper().encode("ascii"))


@pytest.mark.parametrize("dialect", ["a1", "c2", "rssi"])
@pytest.mark.parametrize("binary", [False, True])
def test_erxudp_lines_of_every_dialect(
    capsys: pytest.CaptureFixture[str], dialect: str, binary: bool
) -> None:
    line = erxudp(bytes.fromhex(E7_FRAME), dialect=dialect, binary=binary)
    # Raw binary reaches argv through the OS's surrogate escapes; the CLI undoes them.
    for arg in (os.fsdecode(line), os.fsdecode(line + b"\r\n"), os.fsdecode(line + b"\n")):
        status, docs, err = run(capsys, arg)
        assert status == 0, err
        doc = docs[0]
        assert doc["sender"] == METER
        assert doc["secured"] == 1
        assert values(doc) == {"0xE7": 1192}
        if dialect == "rssi":
            assert doc["rssi"] == Decimal("-55.32")  # 0.275 × 0xB2 − 104.27 (§D.1)
        else:
            assert "rssi" not in doc
        first = ["sender", "rssi"] if dialect == "rssi" else ["sender", "secured"]
        assert list(doc)[:2] == first


def test_binary_erxudp_from_stdin_is_cut_by_datalen(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = bytes.fromhex("1081000D02880105FF017201E704000D0A0D")  # the EDT holds CR LF CR
    lines = [
        erxudp(frame, dialect="a1", binary=True),
        erxudp(frame, dialect="c2", binary=True),
        erxudp(bytes.fromhex("1081000D02880105FF017201E7040000000D"), dialect="rssi", binary=True),
        erxudp(frame, dialect="rssi", binary=False),
        F["e7"].encode(),
    ]
    data = b"\r\n".join(lines) + b"\n\n"
    assert split_inputs(data) == lines
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))
    status, docs, err = run(capsys, F["e1"], "-")
    assert status == 0, err
    assert [values(doc) for doc in docs] == [
        {"0xE1": {"code": 2, "kwh": Decimal("0.01")}},
        {"0xE7": 0x000D0A0D},
        {"0xE7": 0x000D0A0D},
        {"0xE7": 0x0D},  # the data's last byte is CR: kept
        {"0xE7": 0x000D0A0D},
        {"0xE7": 632},
    ]


def test_bad_input_names_the_input_and_offset_and_the_rest_still_decodes(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bad_erxudp = erxudp(bytes.fromhex(E7_FRAME), dialect="a1", binary=False)[:-2]
    pana = erxudp(bytes.fromhex("0000002800000000"), dialect="c2", binary=False)
    status, docs, err = run(
        capsys,
        "1081 0001 0288",  # 1: header cut short
        F["e7"],  # 2: fine
        "1081 00zz",  # 3: not hex
        "1081000102880105FF017201E703000000",  # 4: E7 EDT of 3 bytes
        os.fsdecode(bad_erxudp),  # 5: DATA shorter than DATALEN
        F["ea"],  # 6: fine
        os.fsdecode(pana),  # 7: not ECHONET Lite
        "1081000102880105FF017202E70400000278",  # 8: OPC 2, one property
    )
    assert status == 2
    # Decoded: 2, 4 (the frame is fine, its E7 value is not), 6, in input order.
    assert [values(doc) for doc in docs] == [
        {"0xE7": 632},
        {"0xE7": None},
        {"0xEA": {"timestamp": "2026-05-20T14:00:00", "raw": 65128, "kwh": None}},
    ]
    assert "EDT is 3 bytes, expected 4" in docs[1]["properties"][0]["error"]
    lines = err.splitlines()
    assert len(lines) == 6
    by_input = {line.split('"', 1)[0].split()[3]: line for line in lines}
    assert set(by_input) == {"1", "3", "4", "5", "7", "8"}
    assert "EDATA header truncated" in by_input["1"]
    assert "byte offset 6 of the frame" in by_input["1"]
    assert '"1081 0001 0288"' in by_input["1"]
    assert "'z' is not a hex digit" in by_input["3"]
    assert "byte offset 3 of the frame" in by_input["3"]
    assert "EPC 0xE7" in by_input["4"]
    assert "byte offset 17 of the frame" in by_input["4"]  # EDT starts at 14, 3 bytes long
    assert "byte offset" in by_input["5"]
    assert "in the line" in by_input["5"]
    assert "byte offset 0 of the ERXUDP data" in by_input["7"]
    assert "byte offset 18 of the frame" in by_input["8"]
    for line in lines:
        assert line.startswith("routeb decode: input ")


def test_bad_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["decode", "--unit", "0.02", F["e0"]]) == 2
    assert "--unit 0.02" in capsys.readouterr().err
    assert main(["decode", "--unit", "0x05", F["e0"]]) == 2
    assert "not an E1 code" in capsys.readouterr().err
    assert main(["decode", "--coefficient", "1000000", F["e0"]]) == 2
    assert "--coefficient" in capsys.readouterr().err


def test_text_output(capsys: pytest.CaptureFixture[str]) -> None:
    line = os.fsdecode(erxudp(bytes.fromhex(E7_FRAME), dialect="rssi", binary=True))
    assert main(["decode", F["e1"], F["ea"], F["e8"], F["d3_sna"], line, F["d5"]]) == 0
    out = capsys.readouterr().out
    assert "TID 0001  028801 → 05FF01  GET_RES" in out
    assert "0xE1 Unit for cumulative amounts of electric energy" in out
    assert "[07EA05140E00000000FE68] = 651.28 kWh (raw 65128) at 2026-05-20 14:00:00" in out
    assert "R 3.0 A, T 5.0 A" in out
    assert "0xD3 Coefficient: (not available)" in out
    assert f"from {METER} (secured 1, RSSI -55.32 dBm)" in out
    assert "= 1192 W" in out
    assert "0xD5 Instance list notification [01028801] = 028801" in out


# --- start-up: what a fresh `routeb decode` loads ----------------------------------------------

_LOADED = """
import sys
from routeb.cli import main
status = main(sys.argv[1:])
print(" ".join(sorted(sys.modules)))
sys.exit(status)
"""


def _modules_loaded_by(*args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", _LOADED, "decode", *args], capture_output=True, text=True, check=True
    )
    return set(done.stdout.splitlines()[-1].split())


def test_a_hex_frame_decodes_without_skstack_or_other_commands() -> None:
    # A fresh process, as a user runs it: the start-up bench (bench/codec.py) times this path.
    loaded = _modules_loaded_by(E7_FRAME)
    assert "routeb.echonet.smartmeter" in loaded
    assert not {name for name in loaded if name.startswith("routeb.skstack")}
    assert not {
        name for name in loaded if name.startswith("routeb.cli.") and name != "routeb.cli.decode"
    }
    assert "routeb.echonet.nodeprofile" not in loaded  # only for a node-profile frame
    # argparse's own width look-up imports shutil (bz2, lzma, zlib, fnmatch): ~3 ms for nothing.
    assert "shutil" not in loaded


def test_an_erxudp_line_loads_the_host_side_parser_only() -> None:
    line = erxudp(bytes.fromhex(E7_FRAME), dialect="c2", binary=False).decode("ascii")
    loaded = _modules_loaded_by(line)
    assert "routeb.skstack.erxudp" in loaded
    # The emulator's side of the protocol (the module's command parser and output builders).
    assert "routeb.skstack.module_commands" not in loaded
    assert "routeb.skstack.module_output" not in loaded
    assert "routeb.skstack.commands" not in loaded
