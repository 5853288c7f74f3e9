"""The test run's own hygiene: a temporary HOME, and writes outside temp are caught."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from pathlib import Path

import platformdirs

from routeb.config import environment_variables
from tests import write_guard


def test_home_and_platform_dirs_are_temporary() -> None:
    temp = os.path.realpath(tempfile.gettempdir())
    for path in (
        os.environ["HOME"],
        platformdirs.user_state_dir("routeb"),
        platformdirs.user_config_dir("routeb"),
        platformdirs.user_data_dir("routeb"),
        str(Path("~").expanduser()),
    ):
        assert os.path.realpath(path).startswith(temp + os.sep), path
    assert not environment_variables() & set(os.environ)


def test_a_write_outside_temp_is_recorded(tmp_path: Path) -> None:
    # Under a regular file: every attempt fails (ENOTDIR) after its audit event, even as root.
    outside = Path("/proc/version") / "x.json"
    for attempt in (
        lambda: outside.open("w"),
        lambda: os.open(outside, os.O_WRONLY | os.O_CREAT),
        outside.parent.mkdir,
        lambda: sqlite3.connect(outside),
    ):
        try:
            attempt()
        except (OSError, sqlite3.Error):
            pass
        else:
            raise AssertionError(f"{outside} was created")
        found = write_guard.take_violations()
        assert len(found) == 1
        assert found[0].startswith(str(outside.parent))
    (tmp_path / "inside.txt").write_text("fine")
    sqlite3.connect(tmp_path / "inside.sqlite3").close()
    assert write_guard.take_violations() == []
    assert write_guard.is_allowed("/dev/null")
    assert not write_guard.is_allowed(Path.home().parent.parent / "etc" / "x")
