"""Rewrite the generated state diagram in docs/session.md from routeb.driver.states.

    .venv/bin/python scripts/session-diagram.py

tests/test_session_states.py fails when the document and the table differ.
"""

from __future__ import annotations

import re
from pathlib import Path

from routeb.driver.states import mermaid

DOC = Path(__file__).resolve().parent.parent / "docs" / "session.md"


def main() -> None:
    text = DOC.read_text(encoding="utf-8")
    block = "```mermaid\n" + mermaid() + "```"
    updated, count = re.subn(r"```mermaid\n.*?```", lambda _: block, text, count=1, flags=re.S)
    if count != 1:
        raise SystemExit("docs/session.md has no mermaid block")
    DOC.write_text(updated, encoding="utf-8")


if __name__ == "__main__":
    main()
