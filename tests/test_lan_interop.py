"""Interoperability over UDP on loopback: pychonet (Home Assistant's ECHONET Lite library) and
routeb's own LAN client read the meter through `routeb bridge` and from `routeb emulate --udp`.

Every node binds its own loopback address (127.0.0.x, all port 3610). Multicast works on
loopback with a group-bound listener (routeb) and IP_MULTICAST_IF (pychonet). A last test runs
discovery across a veth pair between two network namespaces (root only; skipped otherwise).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from pychonet.echonetapiclient import ECHONETAPIClient
from pychonet.lib.udpserver import UDPServer
from pychonet.LowVoltageSmartElectricEnergyMeter import LowVoltageSmartElectricEnergyMeter

from routeb.bridge.discovery import discover
from routeb.collector.links import open_lan_link
from routeb.emulator.app import DEFAULT_ID, DEFAULT_PASSWORD, Emulator, EmulatorOptions
from routeb.meter.client import ClientSettings

PYTHON = sys.executable
FAST_CLIENT = ClientSettings(min_gap=0.0, timer1=2.0, timer2=2.0)
READ = [0xE7, 0xE8, 0xE0, 0xE3, 0xD3, 0xE1]


class PychonetController:
    """pychonet as Home Assistant drives it: discover, property maps, then updates."""

    def __init__(self, local: str) -> None:
        self.local = local
        self.server = UDPServer(local_ip=local)
        self.server.run(local, 3610, loop=asyncio.get_running_loop())
        self.api = ECHONETAPIClient(self.server)
        self.found: list[str] = []

        async def on_new_host(host: str) -> None:
            self.found.append(host)
            await self.api.discover(host)

        self.api.configure(
            message_timeout=15, logger=lambda *a, **k: None, discover_callback=on_new_host
        )

    async def discover(self, host: str) -> None:
        await self.api.discover()  # multicast; new hosts are followed up by on_new_host
        for _ in range(50):
            if self.api.state.get(host, {}).get("discovered"):
                return
            await asyncio.sleep(0.1)
        raise AssertionError(f"pychonet did not discover {host}: {self.found}")

    async def read_meter(self, host: str) -> dict[int, Any]:
        await self.api.getAllPropertyMaps(host, 0x02, 0x88, 0x01)
        meter = LowVoltageSmartElectricEnergyMeter(host, self.api)
        values: dict[int, Any] = await meter.update(READ)
        return values

    def close(self) -> None:
        self.server.close()


@contextlib.asynccontextmanager
async def pychonet(local: str) -> AsyncIterator[PychonetController]:
    controller = PychonetController(local)
    try:
        yield controller
    finally:
        controller.close()
        await asyncio.sleep(0)


def check_pychonet_values(values: dict[int, Any], direct: dict[int, bytes]) -> None:
    """pychonet's decoded values against the EDTs routeb read from the same node."""
    assert values[0xD3] == int.from_bytes(direct[0xD3], "big") == 1
    assert values[0xE1] == 0.01  # unit code 0x02 (protocol.md §B.1)
    assert values[0xE0] == int.from_bytes(direct[0xE0], "big")
    assert values[0xE3] == int.from_bytes(direct[0xE3], "big")
    assert isinstance(values[0xE7], int)
    assert values[0xE7] >= 0
    assert set(values[0xE8]) == {"r_phase_amperes", "t_phase_amperes"}
    assert values[0xE8]["r_phase_amperes"] is not None


@contextlib.contextmanager
def spawn(
    *args: str, env: dict[str, str] | None = None
) -> Iterator[tuple[subprocess.Popen[str], dict[str, Any]]]:
    proc = subprocess.Popen(
        [PYTHON, "-m", "routeb", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, **(env or {})},
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if not line:
            raise AssertionError(f"{args[0]} failed: {proc.stderr.read() if proc.stderr else ''}")
        yield proc, json.loads(line)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()


async def test_pychonet_and_routeb_read_the_meter_through_routeb_bridge(tmp_path: Path) -> None:
    """emulator (Wi-SUN on a pty) → `routeb bridge` → UDP → pychonet and routeb."""
    bridge_env = {
        "ROUTEB_ID": DEFAULT_ID,
        "ROUTEB_PASSWORD": DEFAULT_PASSWORD,
        "HOME": str(tmp_path),
    }
    with (
        spawn("emulate", "--time-scale", "0.01") as (_, emulator),
        spawn(
            "bridge",
            "--device",
            emulator["serial"],
            "--state-dir",
            str(tmp_path),
            "--config",
            os.devnull,
            "--listen",
            "127.0.0.61",
            "--allow-set",
            "E5",
            env=bridge_env,
        ) as (bridge_proc, ready),
    ):
        assert ready["listen"] == "127.0.0.61"
        assert ready["identification"].startswith("feffffff")
        async with open_lan_link(
            "udp://127.0.0.61", bind="127.0.0.62", client_settings=FAST_CLIENT
        ) as lan:
            direct = (await lan.client.get([0xD3, 0xE0, 0xE3, 0xE1, 0x83])).values
            readings = await lan.reader.read([0xE7, 0xE8, 0xE0, 0xE2])
            assert all(r.available for r in readings.values())
            assert lan.reader.info.instance_list_seen or lan.reader.info.get_map
        async with pychonet("127.0.0.63") as controller:
            await controller.discover("127.0.0.61")
            state = controller.api.state["127.0.0.61"]
            assert state["uid"] == ready["identification"][2:]  # pychonet drops the 0xFE
            assert 0x02 in state["instances"]
            values = await controller.read_meter("127.0.0.61")
        check_pychonet_values(values, direct)
        nodes = await discover(bind="127.0.0.64", timeout=0.5)
        [node] = [n for n in nodes if n.address == "127.0.0.61"]
        assert node.identity == ready["identification"]
        assert node.meters
        assert node.meters[0].serial
        bridge_proc.terminate()
        bridge_proc.wait(10)
        assert bridge_proc.stderr is not None
        status = bridge_proc.stderr.read()
        assert "LAN requests" in status
        assert "meter link ready" in status


async def test_pychonet_reads_routeb_emulate_udp() -> None:
    """`routeb emulate --udp` is an ECHONET Lite node pychonet can discover and read."""
    emulator = Emulator(EmulatorOptions(time_scale=0.01, udp="127.0.0.71"))
    ready = await emulator.start()
    try:
        assert ready["udp"] == "127.0.0.71"
        async with open_lan_link(
            "udp://127.0.0.71", bind="127.0.0.72", client_settings=FAST_CLIENT
        ) as lan:
            direct = (await lan.client.get([0xD3, 0xE0, 0xE3, 0xE1])).values
        async with pychonet("127.0.0.73") as controller:
            await controller.discover("127.0.0.71")
            values = await controller.read_meter("127.0.0.71")
        check_pychonet_values(values, direct)
    finally:
        await emulator.close()


def test_routeb_read_and_discover_cli_over_udp(tmp_path: Path) -> None:
    """`routeb read --device udp://…` and `routeb discover` against `routeb emulate --udp`."""
    env = {**os.environ, "HOME": str(tmp_path)}
    with spawn("emulate", "--time-scale", "0.01", "--udp", "127.0.0.81") as (_, ready):
        assert ready["udp"] == "127.0.0.81"
        out = subprocess.run(
            [
                PYTHON,
                "-m",
                "routeb",
                "read",
                "--device",
                "udp://127.0.0.81",
                "--config",
                os.devnull,
                "--json",
                "E7",
                "D3",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        props = {p["epc"]: p for p in json.loads(out.stdout)["properties"]}
        assert len(props) == 2
        found = subprocess.run(
            [PYTHON, "-m", "routeb", "discover", "--bind", "127.0.0.82", "--timeout", "0.5"],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
        watched = subprocess.run(
            [
                PYTHON,
                "-m",
                "routeb",
                "watch",
                "--device",
                "udp://127.0.0.81",
                "--config",
                os.devnull,
                "--json",
                "--updates",
                "1",
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env=env,
            check=False,
        )
        assert watched.returncode == 0, watched.stderr
        line = json.loads(watched.stdout.splitlines()[-1])
        assert line["link"] == "ready"
        assert line["power_w"] is not None
        assert found.returncode == 0, found.stderr
        assert "127.0.0.81" in found.stdout
        assert "smart meter 028801" in found.stdout


NETNS = shutil.which("ip") is not None and hasattr(os, "geteuid") and os.geteuid() == 0


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, timeout=10)


@pytest.mark.skipif(not NETNS, reason="needs root and iproute2 for network namespaces")
def test_multicast_discovery_between_namespaces_ipv4_and_ipv6(tmp_path: Path) -> None:
    """Two "hosts" joined by a veth pair: discovery by multicast on 224.0.23.0 and ff02::1."""
    tag = f"rb{os.getpid() % 100000}"
    ns_a, ns_b = f"{tag}a", f"{tag}b"
    try:
        _ip("netns", "add", ns_a)
        _ip("netns", "add", ns_b)
        _ip(
            "link",
            "add",
            f"{tag}x",
            "netns",
            ns_a,
            "type",
            "veth",
            "peer",
            "name",
            f"{tag}y",
            "netns",
            ns_b,
        )
        for ns, dev, addr in (
            (ns_a, f"{tag}x", "10.231.0.1/24"),
            (ns_b, f"{tag}y", "10.231.0.2/24"),
        ):
            # No duplicate address detection: the link-local address is usable at once.
            for key in ("all", "default"):
                subprocess.run(
                    [
                        "ip",
                        "netns",
                        "exec",
                        ns,
                        "sysctl",
                        "-qw",
                        f"net.ipv6.conf.{key}.accept_dad=0",
                    ],
                    check=True,
                    capture_output=True,
                    timeout=10,
                )
            _ip("-n", ns, "addr", "add", addr, "dev", dev)
            _ip("-n", ns, "link", "set", dev, "up")
            _ip("-n", ns, "link", "set", "lo", "up")
            _ip("-n", ns, "route", "add", "224.0.0.0/4", "dev", dev)
        for ns in (ns_a, ns_b):
            for _ in range(50):  # the link-local address, no longer tentative
                shown = subprocess.run(
                    ["ip", "-n", ns, "-6", "addr", "show", "scope", "link"],
                    capture_output=True,
                    text=True,
                    timeout=10,
                    check=True,
                ).stdout
                if "fe80::" in shown and "tentative" not in shown:
                    break
                time.sleep(0.1)
        # Node side in namespace A: the emulated meter served on all interfaces (wildcard).
        node = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                ns_a,
                PYTHON,
                "-m",
                "routeb",
                "emulate",
                "--time-scale",
                "0.01",
                "--udp",
                "0.0.0.0",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "HOME": str(tmp_path)},
        )
        node6 = subprocess.Popen(
            [
                "ip",
                "netns",
                "exec",
                ns_a,
                PYTHON,
                "-m",
                "routeb",
                "emulate",
                "--time-scale",
                "0.01",
                "--udp",
                "::",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "HOME": str(tmp_path)},
        )
        try:
            for proc in (node, node6):
                assert proc.stdout is not None
                assert proc.stdout.readline(), proc.stderr.read() if proc.stderr else ""
            for extra in ([], ["--ipv6", "--interface", f"{tag}y"]):
                found = subprocess.run(
                    [
                        "ip",
                        "netns",
                        "exec",
                        ns_b,
                        PYTHON,
                        "-m",
                        "routeb",
                        "discover",
                        "--json",
                        "--timeout",
                        "1",
                        *extra,
                    ],
                    capture_output=True,
                    text=True,
                    timeout=60,
                    check=False,
                )
                assert found.returncode == 0, found.stderr
                nodes = [json.loads(line) for line in found.stdout.splitlines()]
                assert len(nodes) == 1, (extra, found.stdout, found.stderr)
                assert nodes[0]["meters"][0]["eoj"] == "028801"
                if extra:
                    assert nodes[0]["address"].startswith("fe80::")
                else:
                    assert nodes[0]["address"] == "10.231.0.1"
        finally:
            for proc in (node, node6):
                proc.terminate()
                proc.wait(10)
                for stream in (proc.stdout, proc.stderr):
                    if stream is not None:
                        stream.close()
    finally:
        for ns in (ns_a, ns_b):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=10, check=False)
