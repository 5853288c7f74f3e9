"""What never reaches a log: the pairing ID as the ID check accepts it, HTTP credentials in a
library's error text, secrets inside a formatted exception."""

from __future__ import annotations

import io
import logging

import pytest

from routeb._redact import Secret, redact_identifiers, redact_secrets
from routeb.cli._common import register_secret, register_url_secret, setup_logging


@pytest.mark.parametrize("pair", ["PAIRZ7Y3", "0123ABCD", "zzzzzzzz", "9a8b7C6D"])
def test_every_pairing_id_the_id_check_accepts_is_masked(pair: str) -> None:
    line = f"EPANDESC  Channel:21  Pan ID:8888  Addr:001D129012345678  LQI:E1  PairID:{pair}"
    assert pair not in redact_identifiers(line)
    assert "PairID:********" in redact_identifiers(line)


@pytest.mark.parametrize(
    "text",
    [
        "Invalid header value char:\n  b'Authorization: Bearer Zk3v9QpL\\x01x'",
        "authorization=Bearer Zk3v9QpL&x",
        "Cookie: routeb_session=1700000000.Zk3v9QpLabc; other=1",
        "form token=Zk3v9QpL&next=/",
    ],
)
def test_http_credentials_in_library_text_are_masked(text: str) -> None:
    assert "Zk3v9QpL" not in redact_secrets(text)


def test_the_log_filter_masks_exceptions_and_every_logger(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    setup_logging(2)
    register_secret(Secret("S3cretTokenValue99"))
    register_url_secret("mqtt://home:br0kerPass@broker:1883")
    register_url_secret("host=db user=u password='pg pass 1'")
    try:
        raise ValueError("boom with S3cretTokenValue99 and br0kerPass and pg pass 1")
    except ValueError:
        logging.getLogger("aiohttp.server").exception("Error handling request")
    logging.getLogger("somelib").warning("sent Authorization: Bearer OtherT0ken")
    shown = stream.getvalue()
    assert "boom with" in shown  # the traceback is there …
    for secret in ("S3cretTokenValue99", "br0kerPass", "pg pass 1", "OtherT0ken"):
        assert secret not in shown  # … without the secrets
    logging.getLogger().handlers.clear()
