"""The scan cache: what a scan found, so the next start joins without scanning.

Per meter (keyed by a digest of the B-route ID, never the ID itself): channel, PAN ID, MAC,
IPv6 link-local address and module dialect. Per module (keyed by its EUI-64): whether
``WOPT 01`` was already written, because WOPT writes flash (protocol.md §D.1: ≤ 10,000 writes).
Files are JSON, written atomically, mode 0600, in the state directory.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Final

from routeb._redact import Secret
from routeb.radio.base import MeterAddress

__all__ = ["CachedMeter", "ScanCache", "meter_key"]

_LOG = logging.getLogger(__name__)
_VERSION: Final = 1
_FILE_MODE: Final = 0o600


def meter_key(rbid: Secret) -> str:
    """A stable file-name-safe key for a meter that does not reveal the B-route ID."""
    return hashlib.sha256(b"routeb-meter:" + rbid.reveal().encode()).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class CachedMeter:
    """What the last successful scan found (protocol.md §D.1 EPANDESC, SKLL64)."""

    channel: int
    pan_id: int
    mac: str
    ipv6: str
    dialect: str  # the radio's variant (bp35a1, bp35c2, rl7023, j11): channels are its own

    @classmethod
    def found(cls, address: MeterAddress, dialect: str) -> CachedMeter:
        """What to cache after a scan by a radio of ``dialect``."""
        return cls(address.channel, address.pan_id, address.mac, address.ipv6, dialect)

    @property
    def address(self) -> MeterAddress:
        """The part a radio joins with."""
        return MeterAddress(self.channel, self.pan_id, self.mac, self.ipv6)


class ScanCache:
    """Read and write cached scan results and per-module facts under ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory

    def _path(self, name: str) -> Path:
        return self.directory / f"{name}.json"

    def _read(self, name: str) -> dict[str, object] | None:
        path = self._path(name)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            _LOG.warning("ignoring unreadable cache file %s: %s", path, exc)
            return None
        if not isinstance(data, dict) or data.get("version") != _VERSION:
            return None
        return data

    def _write(self, name: str, data: dict[str, object]) -> None:
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        payload = json.dumps({"version": _VERSION, **data}, sort_keys=True)
        fd, tmp = tempfile.mkstemp(dir=self.directory, prefix=".tmp-", suffix=".json")
        try:
            os.fchmod(fd, _FILE_MODE)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self._path(name))
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def load_meter(self, key: str) -> CachedMeter | None:
        """The cached scan result for this meter, if any and well-formed."""
        data = self._read(f"meter-{key}")
        if data is None:
            return None
        try:
            channel, pan_id = data["channel"], data["pan_id"]
            mac, ipv6, dialect = data["mac"], data["ipv6"], data["dialect"]
        except KeyError:
            return None
        if not (
            isinstance(channel, int)
            and isinstance(pan_id, int)
            and isinstance(mac, str)
            and isinstance(ipv6, str)
            and isinstance(dialect, str)
        ):
            return None
        return CachedMeter(channel, pan_id, mac, ipv6, dialect)

    def store_meter(self, key: str, meter: CachedMeter) -> None:
        """Remember a successful scan + join."""
        self._write(f"meter-{key}", asdict(meter))

    def forget_meter(self, key: str) -> None:
        """Invalidate the cache (a join with it failed: the meter moved channel, …)."""
        self._path(f"meter-{key}").unlink(missing_ok=True)

    def wopt_done(self, module_mac: str) -> bool:
        """True once WOPT 01 was written to this module (it persists in its flash)."""
        data = self._read(f"module-{module_mac.upper()}")
        return bool(data and data.get("wopt_hex") is True)

    def remember_wopt(self, module_mac: str) -> None:
        """Record that this module now emits hex ERXUDP data."""
        self._write(f"module-{module_mac.upper()}", {"wopt_hex": True})

    # --- the wrong-credentials latch (issue: driver §2) -------------------------------------

    def latch_credentials(self, key: str, rbid: Secret, password: Secret, reason: str) -> None:
        """Remember that the meter rejected this ID/password pair (salted, slow hash only)."""
        salt = os.urandom(16)
        self._write(
            f"latch-{key}",
            {
                "salt": salt.hex(),
                "fingerprint": _fingerprint(salt, rbid, password),
                "reason": reason,
                "since": time.time(),
            },
        )

    def latched_reason(self, key: str, rbid: Secret, password: Secret) -> str | None:
        """Why these exact credentials are latched, or None when they are not."""
        data = self._read(f"latch-{key}")
        if data is None:
            return None
        salt, fingerprint, reason = data.get("salt"), data.get("fingerprint"), data.get("reason")
        if not (isinstance(salt, str) and isinstance(fingerprint, str)):
            return None
        try:
            salt_bytes = bytes.fromhex(salt)
        except ValueError:
            return None
        if _fingerprint(salt_bytes, rbid, password) != fingerprint:
            return None  # other credentials now: the latch does not apply
        return reason if isinstance(reason, str) else "authentication failed"

    def clear_latch(self, key: str) -> None:
        """Allow these credentials to be tried again."""
        self._path(f"latch-{key}").unlink(missing_ok=True)


def _fingerprint(salt: bytes, rbid: Secret, password: Secret) -> str:
    # PBKDF2 so that the latch file does not make the 12-character password cheap to guess.
    secret = f"{rbid.reveal()}:{password.reveal()}".encode()
    return hashlib.pbkdf2_hmac("sha256", secret, salt, 100_000).hex()
