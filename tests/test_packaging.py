"""The wheel a user installs: pure Python, and every file routeb reads at run time inside it."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_is_pure_python_and_ships_every_tracked_package_file(tmp_path: Path) -> None:
    # The PEP 517 hook of the backend pyproject.toml names, as pip would call it.
    name = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, hatchling.build as b; print(b.build_wheel(sys.argv[1]))",
            str(tmp_path),
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[-1]
    assert name.endswith("-py3-none-any.whl"), name  # no compiled extension, any platform
    shipped = set(zipfile.ZipFile(tmp_path / name).namelist())
    tracked = subprocess.run(
        ["git", "ls-files", "src/routeb"], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    assert tracked, "not a git checkout"
    missing = [path for path in tracked if path.removeprefix("src/") not in shipped]
    assert missing == []
    # What routeb opens at run time, by kind: migrations, the dashboard, the typing marker.
    for needed in (
        "routeb/py.typed",
        "routeb/storage/migrations/0001_initial.sql",
        "routeb/fleet/migrations/0001_initial.sql",
        "routeb/web/static/app.html",
        "routeb/web/static/vendor/uPlot.iife.min.js",
    ):
        assert needed in shipped
    assert not [path for path in shipped if path.endswith((".so", ".c", ".pyc"))]
