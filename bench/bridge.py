"""LAN Get latency and throughput: through `routeb bridge` (cached) vs `routeb emulate --udp`.

Starts `routeb emulate --udp A` (the meter answering directly on the LAN) and `routeb bridge
--listen B` connected to the same emulator over its pty (Wi-SUN), then, from this process on
a third loopback address with a plain UDP socket:

* latency: sequential Gets of E7 (one in flight), p50 / p99 round trip;
* throughput: a window of Gets in flight for a few seconds, answers per second.

The bridge's E7 freshness is raised so that every Get is a cache hit (what is measured is the
LAN path, not the radio). Rounds are interleaved — direct and bridge back to back, the order
alternating — so that the machine's noise hits both alike; ratios are taken within a round and
their median and range reported. Targets (issue §6): bridge p50 within 2× of the direct
emulator's, ≥ 2,000 cached Gets per second.

    python bench/bridge.py [--rounds 7] [--count 3000] [--seconds 3] [--window 32]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator

from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD

DIRECT = "127.0.0.91"
BRIDGE = "127.0.0.92"
LOCAL = "127.0.0.93"
PORT = 3610


def _get(tid: int) -> bytes:
    # 1081 TID 05FF01 028801 62 01 E7 00 (protocol.md §A.1)
    return bytes.fromhex("1081") + tid.to_bytes(2, "big") + bytes.fromhex("05FF0102880162 01E700")


@contextlib.contextmanager
def _spawn(args: list[str], env: dict[str, str]) -> Iterator[dict[str, str]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "routeb", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"routeb {args[0]} did not start")
        yield json.loads(line)
    finally:
        proc.terminate()
        proc.wait(10)
        if proc.stdout is not None:
            proc.stdout.close()


def _socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((LOCAL, PORT))
    sock.settimeout(1.0)
    return sock


def latency(sock: socket.socket, target: str, count: int) -> tuple[float, float]:
    """p50 and p99 round trip in milliseconds of ``count`` sequential Gets."""
    times: list[float] = []
    for i in range(count + 50):
        tid = i & 0xFFFF
        start = time.perf_counter()
        sock.sendto(_get(tid), (target, PORT))
        while True:
            data, _ = sock.recvfrom(2048)
            if data[2:4] == tid.to_bytes(2, "big"):
                if data[10] != 0x72:  # Get_Res with E7, or the figures mean nothing
                    raise SystemExit(f"{target} answered {data.hex()}")
                break
        if i >= 50:  # warm-up excluded
            times.append((time.perf_counter() - start) * 1000)
    times.sort()
    return statistics.median(times), times[int(len(times) * 0.99) - 1]


def throughput(sock: socket.socket, target: str, seconds: float, window: int) -> float:
    """Answers per second with ``window`` Gets in flight."""
    sock.settimeout(0.2)
    tid = 0
    for _ in range(window):
        tid += 1
        sock.sendto(_get(tid & 0xFFFF), (target, PORT))
    answered = 0
    start = time.perf_counter()
    end = start + seconds
    while time.perf_counter() < end:
        try:
            sock.recvfrom(2048)
            answered += 1
            sends = 1
        except TimeoutError:
            sends = window  # datagrams were dropped: refill the window
        for _ in range(sends):
            tid += 1
            sock.sendto(_get(tid & 0xFFFF), (target, PORT))
    elapsed = time.perf_counter() - start
    with contextlib.suppress(TimeoutError):
        while True:
            sock.recvfrom(2048)
    sock.settimeout(1.0)
    return answered / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--window", type=int, default=32)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="routeb-bench-")
    env = {
        **os.environ,
        "HOME": home,
        "ROUTEB_ID": DEFAULT_ID,
        "ROUTEB_PASSWORD": DEFAULT_PASSWORD,
    }
    emulate = ["emulate", "--time-scale", "0.01", "--udp", DIRECT]
    with _spawn(emulate, env) as emulator:
        bridge = ["bridge", "--device", emulator["serial"], "--state-dir", home]
        bridge += ["--config", os.devnull, "--listen", BRIDGE, "--fresh", "E7=3600"]
        bridge += ["--status-interval", "0"]
        with _spawn(bridge, env):
            sock = _socket()
            try:
                targets = {"direct emulator": DIRECT, "bridge (cached)": BRIDGE}
                results: dict[str, list[tuple[float, float, float]]] = {n: [] for n in targets}
                for round_ in range(args.rounds):
                    order = list(targets) if round_ % 2 == 0 else list(reversed(targets))
                    for name in order:
                        p50, p99 = latency(sock, targets[name], args.count)
                        rate = throughput(sock, targets[name], args.seconds, args.window)
                        results[name].append((p50, p99, rate))
                        print(
                            f"round {round_ + 1}: {name:16} p50 {p50:.3f} ms p99 {p99:.3f} ms "
                            f"{rate:,.0f} Gets/s",
                            flush=True,
                        )
            finally:
                sock.close()
    median = statistics.median
    print(f"\nmedians of {args.rounds} interleaved rounds (range):")
    print(f"{'':18} {'p50 ms':>20} {'p99 ms':>20} {'Gets/s':>22}")
    for name, rounds in results.items():
        cells = []
        for column, fmt in ((0, ".3f"), (1, ".3f"), (2, ",.0f")):
            values = [r[column] for r in rounds]
            cells.append(
                f"{median(values):{fmt}} ({min(values):{fmt}}–{max(values):{fmt}})".rjust(20)
            )
        print(f"{name:18} " + " ".join(cells))
    direct, bridged = results["direct emulator"], results["bridge (cached)"]
    ratios = [b[0] / d[0] for b, d in zip(bridged, direct, strict=True)]
    print(
        f"bridge / direct p50: {median(ratios):.2f}× (per-round {min(ratios):.2f}–"
        f"{max(ratios):.2f}; target ≤ 2×); bridge {median(r[2] for r in bridged):,.0f} Gets/s "
        f"(target ≥ 2,000)"
    )


if __name__ == "__main__":
    main()
