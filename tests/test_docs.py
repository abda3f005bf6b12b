"""The README and docs/: every picture and local link they reference exists, and the README fits in 20 KB."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCUMENTS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def references(text: str) -> list[str]:
    images = re.findall(r'<img src="([^"]+)"', text) + re.findall(r"!\[[^\]]*\]\(([^)\s]+)\)", text)
    links = re.findall(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)", text)
    return [r for r in images + links if not re.match(r"[a-z]+://|#|mailto:", r)]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.name)
def test_every_local_picture_and_link_exists(document):
    found = references(document.read_text(encoding="utf-8"))
    missing = [r for r in found if not (document.parent / r.split("#")[0]).exists()]
    assert not missing, f"{document.name} references missing files: {missing}"


def test_the_readme_fits_and_points_at_every_doc():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.encode()) <= 20_000
    linked = {Path(r.split("#")[0]).name for r in references(readme)}
    assert {p.name for p in DOCUMENTS[1:]} <= linked
