"""The documentation: every command and setting the README ever listed is documented, and the MkDocs
site builds in strict mode (a broken link, a missing page or a page outside the navigation fails).

The README of the commit that moved the reference into docs/ is the list (tests/docs_reference.txt
holds what it named), so a command or a setting cannot silently drop out while pages are rewritten.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
REFERENCE = Path(__file__).resolve().parent / "docs_reference.txt"


def _documentation() -> str:
    """README and every page of docs/, as one text."""
    pages = sorted(DOCS.rglob("*.md"))
    return "\n".join(path.read_text(encoding="utf-8") for path in [ROOT / "README.md", *pages])


def _normalised(text: str) -> str:
    """Whitespace folded and Markdown's backticks dropped, so a wrapped or quoted command still matches."""
    return re.sub(r"\s+", " ", text.replace("`", " "))


def _reference() -> list[str]:
    lines = REFERENCE.read_text(encoding="utf-8").splitlines()
    return [line for line in lines if line.strip() and not line.startswith("#")]


def test_the_reference_list_names_commands_and_settings():
    names = _reference()
    assert sum(name.startswith("feedback-sla ") for name in names) > 50
    assert sum(name.startswith("FEEDBACK_SLA_") for name in names) > 50


@pytest.mark.parametrize("name", _reference())
def test_every_command_and_setting_is_documented(name):
    assert _normalised(name) in _normalised(_documentation()), f"{name!r} is in no page of docs/ nor README"


def test_the_readme_shows_the_triage_page_and_links_into_the_docs():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/img/triage.png" in readme
    assert (DOCS / "img" / "triage.png").stat().st_size > 10_000
    for target in re.findall(r"\]\((docs/[^)#\s]+)", readme):
        assert (ROOT / target).exists(), f"README links to {target}, which does not exist"
    assert len(readme.splitlines()) <= 220, "README is the front door; the reference lives in docs/"


def test_the_site_builds_in_strict_mode(tmp_path):
    if shutil.which("mkdocs") is None and not (Path(sys.executable).parent / "mkdocs").exists():
        pytest.skip("mkdocs is not installed (pip install -e '.[test]')")
    mkdocs = shutil.which("mkdocs") or str(Path(sys.executable).parent / "mkdocs")
    built = subprocess.run(
        [mkdocs, "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"NO_MKDOCS_2_WARNING": "1", "PATH": str(Path(sys.executable).parent) + ":/usr/bin:/bin"},
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert (tmp_path / "site" / "index.html").exists()
