"""Secrets and redaction: the B-route ID, password and tokens never reach a log, repr or message.

``Secret`` wraps a credential so that ``str``/``repr``/``format`` print a mask; code that really
needs the value calls ``reveal()`` (only the SKSTACK command builder does). ``redact_line``
masks the arguments of SKSETRBID / SKSETPWD in any line about to be logged (commands, echoes).
"""

from __future__ import annotations

import re
from typing import Final

__all__ = ["MASK", "Secret", "redact_identifiers", "redact_line", "redact_secrets"]

MASK: Final = "********"

# protocol.md §D.1: `SKSETPWD <LEN> <PWD>` and `SKSETRBID <ID>` carry the credentials.
_SECRET_COMMANDS: Final = re.compile(
    rb"(SKSETPWD\s+[0-9A-Fa-f]{1,2}\s+|SKSETRBID\s+)(\S+)", re.IGNORECASE
)
_SECRET_COMMANDS_TEXT: Final = re.compile(
    r"(SKSETPWD\s+[0-9A-Fa-f]{1,2}\s+|SKSETRBID\s+)(\S+)", re.IGNORECASE
)
# §D.1/§D.4: 16-hex MACs, 39-char IPv6 addresses, `PairID:xxxxxxxx` lines. The pairing ID is
# the last 8 characters of the B-route ID, which may be any ASCII letters and digits
# (config.validate_rbid), so the mask takes those too, not only hex.
_IDENTIFIERS: Final = re.compile(
    r"(?P<ipv6>\b[0-9A-Fa-f]{4}(?::[0-9A-Fa-f]{4}){7}\b)"
    r"|(?P<pair>Pair\s*ID:\s*)[0-9A-Za-z]{1,8}"
    r"|(?P<mac>\b[0-9A-Fa-f]{16}\b)",
    re.IGNORECASE,
)
# HTTP credentials as they appear in a library's error text (aiohttp quotes a bad header):
# `Authorization: Bearer <token>`, a bare `Bearer <token>`, the login cookie and form field.
_HTTP_CREDENTIALS: Final = re.compile(
    r"(?P<keep>(?:authorization\s*[:=]\s*(?:bearer|basic|token)?\s*)"
    r"|(?:\bbearer\s+)"
    r"|(?:routeb_session\s*=\s*)"
    r"|(?:\btoken\s*=\s*))"
    r"(?P<value>[^\s'\",;&]+)",
    re.IGNORECASE,
)


class Secret:
    """A credential that never prints its value."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        """The real value; call it only where the value goes on the wire."""
        return self._value

    def __len__(self) -> int:
        return len(self._value)

    def __bool__(self) -> bool:
        return bool(self._value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __repr__(self) -> str:
        return f"Secret({MASK!r})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a Secret cannot be pickled")


def redact_line(line: str | bytes) -> str:
    """A printable form of a command/response line with SKSETRBID/SKSETPWD arguments masked."""
    if isinstance(line, bytes):
        masked = _SECRET_COMMANDS.sub(lambda m: m.group(1) + MASK.encode(), line)
        return masked.decode("ascii", "backslashreplace")
    return _SECRET_COMMANDS_TEXT.sub(lambda m: m.group(1) + MASK, line)


def _mask_identifier(match: re.Match[str]) -> str:
    if match.group("pair") is not None:
        return match.group("pair") + "********"
    text = match.group(0)
    # Keep the last 4 hex digits so log lines stay distinguishable without revealing the device.
    return "…" + text[-4:]


def redact_identifiers(text: str) -> str:
    """Mask MAC addresses, IPv6 addresses and pairing IDs (used unless the user asks for them)."""
    return _IDENTIFIERS.sub(_mask_identifier, text)


def redact_secrets(text: str) -> str:
    """``redact_line`` plus HTTP credentials (Authorization headers, tokens, session cookies)."""
    return _HTTP_CREDENTIALS.sub(lambda m: m.group("keep") + MASK, redact_line(text))
