"""The one glossary (routeb/glossary.py): every term in both languages with the same
placeholders, every key the page asks for defined, served as /static/glossary.js (loaded next to
app.js: no round trip before the first render)."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path

import aiohttp

from routeb.glossary import TERMS, as_tables
from tests.browser_helpers import running_dashboard, seed
from tests.test_web_api import NOW

APP_JS = Path(__file__).resolve().parent.parent / "src" / "routeb" / "web" / "static" / "app.js"
APP_HTML = APP_JS.with_name("app.html")
_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def test_every_term_has_both_languages_and_the_same_placeholders() -> None:
    for key, (english, japanese) in TERMS.items():
        assert english.strip(), key
        assert japanese.strip(), key
        assert set(_PLACEHOLDER.findall(english)) == set(_PLACEHOLDER.findall(japanese)), key


def test_every_key_the_page_uses_is_in_the_glossary() -> None:
    used = set(re.findall(r'\bt\("([\w.]+)"', APP_JS.read_text(encoding="utf-8")))
    used |= set(re.findall(r'data-i18n(?:-aria)?="([\w.]+)"', APP_HTML.read_text("utf-8")))
    # t("link." + state): a prefix, whose terms must exist
    missing = sorted(
        k for k in used if (k not in TERMS if not k.endswith(".") else not _has_prefix(k))
    )
    assert missing == []


def _has_prefix(prefix: str) -> bool:
    return any(key.startswith(prefix) for key in TERMS)


def test_the_wording_of_japanese_bills() -> None:
    ja = as_tables()["ja"]
    assert ja["energy.bought"] == "買電量"
    assert ja["energy.sold"] == "売電量"
    assert ja["line.energy"] == "電力量料金"
    assert ja["line.fuel_adjustment"] == "燃料費調整額"
    assert ja["bill.period"] == "検針期間"
    assert ja["bill.readDay"] == "検針日"


async def test_served_to_the_page(tmp_path: Path) -> None:
    db = tmp_path / "routeb.sqlite3"
    seed(db, date(2026, 5, 19), NOW)
    async with (
        running_dashboard(db, clock=lambda: NOW) as dash,
        aiohttp.ClientSession() as http,
        http.get(dash.base + "/static/glossary.js") as response,
    ):
        assert response.status == 200
        assert response.headers["Cache-Control"] == "no-cache"
        assert response.headers["Content-Type"].startswith("text/javascript")
        text = await response.text()
    prefix = "window.ROUTEB_GLOSSARY = "
    assert text.startswith(prefix)
    assert json.loads(text.removeprefix(prefix).rstrip().removesuffix(";")) == as_tables()
