"""Record every write this test process makes outside the temporary directories (PEP 578).

``install`` adds an audit hook that sees ``open`` for writing, ``os.mkdir``, renames, links
and ``sqlite3.connect``; a path outside the allowed roots is recorded, and ``conftest.py``
fails the test that made it. Allowed: the system temporary directory (pytest's ``tmp_path``
and the run's HOME live there), ``/dev`` (ptys, ``/dev/null``), bytecode caches, and the
test tools' own caches in the repository (``.pytest_cache``, ``.hypothesis``), and the browser
tests' screenshot directory.
"""

from __future__ import annotations

import os
import sys
import tempfile
import traceback
from pathlib import Path
from typing import Final

__all__ = ["install", "is_allowed", "take_violations"]

_WRITE_FLAGS: Final = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
_TOOL_CACHES: Final = (".pytest_cache", ".hypothesis")
_roots: list[str] = []
_violations: list[str] = []
_installed = False


def _real(path: str) -> str:
    return os.path.realpath(os.path.abspath(path))


def is_allowed(path: str | os.PathLike[str] | bytes | int) -> bool:
    """True for a path tests may write to (file descriptors and special names too)."""
    if isinstance(path, int):
        return True  # an already-open descriptor: its opening was checked
    text = os.fsdecode(path) if isinstance(path, bytes) else os.fspath(path)
    if text in {"", ":memory:"} or text.startswith("file:"):
        return True  # SQLite's in-memory databases (URIs are only used for read-only opens)
    real = _real(text)
    parts = Path(real).parts
    if "__pycache__" in parts:
        return True
    return any(real == root or real.startswith(root + os.sep) for root in _roots)


def _check(path: object) -> None:
    if isinstance(path, str | bytes | int | os.PathLike) and not is_allowed(path):
        where = "".join(traceback.format_stack(limit=8)[:-2])
        _violations.append(f"{os.fsdecode(path) if isinstance(path, bytes) else path}\n{where}")


def _hook(event: str, args: tuple[object, ...]) -> None:
    if event == "open":
        path, mode, flags = args
        writing = (
            any(c in mode for c in "wax+")
            if isinstance(mode, str)
            else isinstance(flags, int) and bool(flags & _WRITE_FLAGS)
        )
        if writing:
            _check(path)
    elif event in {"os.mkdir", "os.symlink", "os.link", "os.truncate"}:
        _check(args[1] if event in {"os.symlink", "os.link"} else args[0])
    elif event in {"os.rename", "os.replace"}:
        _check(args[1])
    elif event == "sqlite3.connect":
        _check(args[0])


def install(repo: Path, artifacts: Path) -> None:
    """Start recording (once per process); ``repo`` is where the tools' caches may be, and
    ``artifacts`` the browser tests' screenshots (relative to ``repo``)."""
    global _installed  # noqa: PLW0603 - one audit hook per process, by PEP 578's design
    _roots[:] = [_real(tempfile.gettempdir()), "/dev", "/proc/self"]
    _roots.extend(_real(str(repo / cache)) for cache in _TOOL_CACHES)
    _roots.append(_real(str(repo / artifacts)))
    if not _installed:
        sys.addaudithook(_hook)
        _installed = True


def take_violations() -> list[str]:
    """The writes recorded since the last call (and forget them)."""
    found = list(_violations)
    _violations.clear()
    return found
