"""The English catalog: every message translated, and the committed .mo matches the .po."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

WEB = Path(__file__).resolve().parents[2] / "web"
CATALOG = WEB / "translations" / "en" / "LC_MESSAGES"
KEYWORDS = {"_": None, "gettext": None, "lazy_gettext": None}
METHODS = [("**.py", "python"), ("templates/**.html", "jinja2")]


def test_every_message_in_the_code_has_an_english_translation():
    with (CATALOG / "messages.po").open("rb") as f:
        po = read_po(f)
    used = {m[2] for m in extract_from_dir(str(WEB), METHODS, keywords=KEYWORDS)}
    assert used, "no messages extracted"
    missing = sorted(m for m in used if not (po.get(m) and po.get(m).string))
    assert not missing, f"untranslated (see web/translations/README.md): {missing}"


def test_the_committed_mo_is_compiled_from_the_po():
    with (CATALOG / "messages.po").open("rb") as f:
        po = {m.id: m.string for m in read_po(f) if m.id}
    with (CATALOG / "messages.mo").open("rb") as f:
        mo = {m.id: m.string for m in read_mo(f) if m.id}
    assert mo == po
