"""The methods documentation keeps up with the package: every public statistical function is
described in docs/, the notes link to each other, the tutorials are listed, and the changelog has
an entry for the current version."""

from __future__ import annotations

import inspect
import re
import tomllib
from pathlib import Path

import rlmeta as rm
from rlmeta import evalstats

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
#: Public functions that are plumbing rather than statistics (described in the README and docstrings).
NOT_STATISTICS = {
    "write",
    "detect_format",
    "read",
    "read_items",
    "read_sweep",
    "to_contrasts",
    "drop_log",
}


def _docs_text() -> str:
    return "\n".join(p.read_text(encoding="utf-8") for p in sorted(DOCS.glob("*.md")))


def test_every_public_statistical_function_is_documented():
    text = _docs_text()
    missing = []
    for owner, names in ((rm, rm.__all__), (evalstats, evalstats.__all__)):
        for name in names:
            obj = getattr(owner, name)
            if not inspect.isfunction(obj) or name in NOT_STATISTICS:
                continue
            if not re.search(rf"\b{re.escape(name)}\b", text):
                missing.append(f"{owner.__name__}.{name}")
    assert not missing, f"not described in docs/*.md: {missing}"


def test_methods_notes_link_to_existing_files():
    for md in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([^)#]+\.md)\)", md.read_text(encoding="utf-8")):
            assert (md.parent / target).is_file(), f"{md.name} links to missing {target}"
    index = (DOCS / "methods.md").read_text(encoding="utf-8")
    for name in (
        "multilevel.md",
        "sensitivity.md",
        "eval_statistics.md",
        "run_level.md",
        "dataset.md",
    ):
        assert f"]({name})" in index, f"docs/methods.md does not link {name}"


def test_every_notebook_is_listed():
    listing = (ROOT / "notebooks" / "README.md").read_text(encoding="utf-8")
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        assert nb.name in listing, f"notebooks/README.md does not list {nb.name}"


def test_changelog_has_the_current_version():
    version = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "version"
    ]
    changelog = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert re.search(rf"^## \[{re.escape(version)}\]", changelog, flags=re.M), version
