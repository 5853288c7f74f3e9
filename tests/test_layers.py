"""The layering of docs/architecture.md, checked by walking every import with ast."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parent.parent / "src" / "routeb"

# package → routeb packages it must not import (docs/architecture.md, "Layers").
FORBIDDEN: dict[str, set[str]] = {
    "errors": {"*"},
    "_redact": {"*"},
    "meter_time": {"*"},
    "_json": {"*"},
    "echonet": {
        "skstack",
        "j11",
        "serialio",
        "driver",
        "transport",
        "meter",
        "collector",
        "storage",
        "export",
        "web",
        "bridge",
        "emulator",
        "cli",
    },
    "skstack": {
        "echonet",
        "j11",
        "serialio",
        "driver",
        "transport",
        "meter",
        "collector",
        "storage",
        "export",
        "web",
        "bridge",
        "emulator",
        "cli",
    },
    # The J11 codec (j11.md) sits beside skstack: sans-IO, and it shares nothing with it.
    "j11": {
        "echonet",
        "skstack",
        "serialio",
        "driver",
        "transport",
        "meter",
        "collector",
        "storage",
        "export",
        "web",
        "bridge",
        "emulator",
        "cli",
    },
    "serialio": {"meter", "collector", "storage", "export", "web", "bridge", "emulator", "cli"},
    # The radios (issue 16 §1) sit between the codecs and the generic session in driver/.
    "radio": {
        "driver",
        "meter",
        "collector",
        "storage",
        "export",
        "web",
        "bridge",
        "emulator",
        "cli",
    },
    "driver": {"meter", "collector", "storage", "export", "web", "bridge", "emulator", "cli"},
    "transport": {"meter", "collector", "storage", "export", "web", "bridge", "emulator", "cli"},
    "meter": {
        "serialio",
        "driver",
        "collector",
        "storage",
        "export",
        "web",
        "bridge",
        "emulator",
        "cli",
    },
    "emulator": {"driver", "meter", "collector", "storage", "export", "web", "bridge", "cli"},
    "tariff": {
        "echonet",
        "skstack",
        "serialio",
        "driver",
        "transport",
        "meter",
        "collector",
        "storage",
        "export",
        "web",
        "bridge",
        "emulator",
        "cli",
    },
    # The live state and the quantity registry sit below the collector and every output.
    "live": {
        "echonet",
        "skstack",
        "serialio",
        "driver",
        "transport",
        "meter",
        "collector",
        "storage",
        "export",
        "web",
        "bridge",
        "fleet",
        "tariff",
        "emulator",
        "cli",
    },
    "storage": {"cli"},
    "collector": {"cli"},
    "bridge": {"cli"},
    "fleet": {"cli", "driver", "transport", "serialio", "bridge", "collector"},
    "export": {"cli", "driver", "transport", "serialio", "collector"},
    "web": {"cli", "driver", "transport", "serialio", "collector"},
    # The sinks that read the store: never the meter side.
    "ha": {"cli", "driver", "transport", "serialio", "collector", "meter", "web", "bridge"},
    "influx": {"cli", "driver", "transport", "serialio", "collector", "meter", "web", "bridge"},
    # Running under a service manager: the notify client and a watchdog over health checks.
    "service": {
        "cli",
        "driver",
        "transport",
        "serialio",
        "skstack",
        "echonet",
        "meter",
        "collector",
        "web",
        "bridge",
        "emulator",
        "fleet",
        "export",
        "ha",
        "influx",
    },
}
# sans-IO packages: no IO, clock, randomness or logging (architecture.md, L1).
SANS_IO = {"echonet", "skstack", "j11"}
SANS_IO_FORBIDDEN_MODULES = {
    "asyncio",
    "socket",
    "serial",
    "serialx",
    "time",
    "random",
    "logging",
    "select",
    "selectors",
    "threading",
}


def _imports(path: Path) -> set[str]:
    source = path.read_text(encoding="utf-8")
    try:
        tree = ast.parse(source)
    except SystemError:
        # CPython 3.11 (gh-106905): the AST recursion counter is shared with other threads
        # that compile at the same moment; a second parse is unaffected.
        tree = ast.parse(source)
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def _package_of(path: Path) -> str:
    rel = path.relative_to(SRC)
    return rel.parts[0].removesuffix(".py")


FILES = sorted(p for p in SRC.rglob("*.py"))


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(SRC)))
def test_layering(path: Path) -> None:
    package = _package_of(path)
    forbidden = FORBIDDEN.get(package, set())
    for name in _imports(path):
        parts = name.split(".")
        if parts[0] == "routeb" and len(parts) > 1:
            target = parts[1]
            if target == package:
                continue
            assert "*" not in forbidden, f"{path.name}: L0 module {package} imports {name}"
            assert target not in forbidden, f"{path.name}: {package} must not import {name}"
        if package in SANS_IO:
            assert parts[0] not in SANS_IO_FORBIDDEN_MODULES, (
                f"{path.name}: sans-IO package {package} imports {name}"
            )


def test_nothing_imports_cli() -> None:
    for path in FILES:
        if _package_of(path) in {"cli", "__main__", "demo"}:
            continue
        for name in _imports(path):
            assert not name.startswith("routeb.cli"), f"{path} imports the CLI"
