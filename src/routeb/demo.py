"""``make demo``: routeb on the built-in emulator (grows with the project).

Until the emulator and the collector land, the demo decodes the real meter frames quoted in
protocol.md §F with routeb's strict codec.
"""

from __future__ import annotations

from routeb.echonet import Frame, decode_frame

# protocol.md §F: real meter frames (EDATA after the ERXUDP header).
_REAL_FRAMES = (
    "108100010288010" + "5FF017201E70400000278",
    "1081000102880105FF017201E80400" + "1E0032",
    "1081000102880105FF017201EA0B07EA05140E00000000FE68",
    "108100000EF0010EF0017301D50401028801",
)


def main() -> int:
    """Print each frame's header and properties."""
    for text in _REAL_FRAMES:
        frame = decode_frame(bytes.fromhex(text))
        if not isinstance(frame, Frame):  # pragma: no cover - the vectors are format 1
            raise TypeError(text)
        props = ", ".join(f"0x{p.epc:02X}={p.edt.hex().upper()}" for p in frame.properties)
        print(f"TID {frame.tid:04X} {frame.seoj}->{frame.deoj} {frame.esv.name}: {props}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
