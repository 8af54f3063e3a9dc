"""The report: every section present, numbers from the engine, escaping, PDF, atomic output."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import rlmeta as rm
from rlmeta.report import ReportConfig, build_report, render_html, write_report
from rlmeta.report.build import SECTION_ORDER

HOSTILE = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def bundled_report():
    return build_report(
        config=ReportConfig(gosh_subsets=2000, spec_max=60, spec_boot=20, permutations=200)
    )


def test_every_section_present_and_none_failed(bundled_report):
    ids = [s.id for s in bundled_report.sections]
    assert ids == ["provenance"] + [sid for sid, _, _ in SECTION_ORDER] + ["appendix"]
    assert not bundled_report.failed(), [(s.title, s.note) for s in bundled_report.failed()]
    for s in bundled_report.sections:
        if s.status == "unavailable":
            assert s.note, f"{s.title} is unavailable without a reason"


def test_headline_matches_the_engine(bundled_report):
    eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    res = rm.meta_analysis(eff, method="REML", test="knha")
    html = render_html(bundled_report)
    est = 100 * res.to_frame()["estimate"].iloc[0]
    assert f"{est:.4f}" in html  # the naive model's estimate in percentage points
    assert f"{len(eff)} effect sizes" in html


def test_provenance_has_hash_versions_seed_command(bundled_report):
    prov = bundled_report.sections[0]
    html = render_html(bundled_report)
    import hashlib

    sha = hashlib.sha256(rm.datasets.dataset_path().read_bytes()).hexdigest()
    assert sha in html
    assert "statsmodels" in html and "seed: 20251121" in html
    assert prov.status == "ok"


def test_html_is_self_contained(bundled_report):
    html = render_html(bundled_report)
    assert not re.search(r"<script\b", html, re.I)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html, re.I)
    assert "<link" not in html.lower()


def test_hostile_strings_are_escaped():
    df = rm.datasets.load_rl_llm_studies()
    df.loc[df.index[:5], "study_id"] = HOSTILE
    df.loc[df.index[5:8], "benchmark"] = [f"{HOSTILE}&<b>{i}" for i in range(3)]
    rep = build_report(
        data=df, config=ReportConfig(gosh_subsets=500, spec_max=50, permutations=100)
    )
    html = render_html(rep)
    assert HOSTILE not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<b>" not in html.replace("<body>", "")


def test_config_overrides_and_errors():
    cfg = ReportConfig().override(measure="LOR", rho=0.5)
    assert (cfg.measure, cfg.rho) == ("LOR", 0.5)
    with pytest.raises(rm.ConfigError, match="rho values must be in"):
        ReportConfig().override(rho=2.0)
    with pytest.raises(rm.ConfigError, match="unknown key 'mesure'"):
        ReportConfig.from_mapping({"effects": {"mesure": "RD"}})
    with pytest.raises(rm.ConfigError, match="must be an integer"):
        ReportConfig.from_mapping({"report": {"seed": "abc"}})


def test_write_is_atomic_and_complete(tmp_path, bundled_report, monkeypatch):
    out = tmp_path / "r.html"
    written = write_report(bundled_report, out, formats=("html",))
    assert written == [out] and out.read_text().rstrip().endswith("</html>")
    # a failure in the middle of writing leaves the old file untouched and no temp file behind
    before = out.read_text()

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr("rlmeta.report.build.write_html", boom)
    with pytest.raises(RuntimeError):
        write_report(bundled_report, out, formats=("html",))
    assert out.read_text() == before
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


@pytest.mark.slow
def test_pdf_has_the_same_sections(tmp_path, bundled_report):
    pypdf = pytest.importorskip("pypdf")
    pdf = write_report(bundled_report, tmp_path / "r.pdf", formats=("pdf",))[0]
    reader = pypdf.PdfReader(str(pdf))
    assert len(reader.pages) >= 5
    text = " ".join(p.extract_text() for p in reader.pages)
    for s in bundled_report.sections:
        assert s.title.split(":")[0] in text, s.title
    if shutil.which("pdftoppm") is None:
        if os.environ.get("CI"):
            pytest.fail("pdftoppm (poppler-utils) missing in CI")
        pytest.skip("pdftoppm not installed")
    subprocess.run(
        ["pdftoppm", "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf), str(tmp_path / "page")],
        check=True,
    )
    png = next(tmp_path.glob("page*.png"))
    from PIL import Image

    img = np.asarray(Image.open(png).convert("L"))
    assert img.shape[0] > 300 and (img < 128).mean() > 0.005  # a rendered page with ink on it


@pytest.mark.browser
def test_report_in_headless_chromium(tmp_path, bundled_report):
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is required in CI (Debian package 'chromium')")
        pytest.skip("chromium not installed")
    sync_api = pytest.importorskip("playwright.sync_api")
    path = write_report(bundled_report, tmp_path / "r.html", formats=("html",))[0]
    n_fig = len(bundled_report.figures)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=chromium,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                "--disable-background-networking",
            ],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        messages = []
        page.on("console", lambda m: messages.append(f"{m.type}: {m.text}"))
        page.on("pageerror", lambda e: messages.append(f"pageerror: {e}"))
        requests = []
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        figs = page.evaluate(
            """() => Array.from(document.querySelectorAll('figure')).map(f => {
                   const s = f.querySelector('svg'); if (!s) return null;
                   const r = s.getBoundingClientRect();
                   return {id: f.dataset.figure, w: r.width, h: r.height, n: s.querySelectorAll('path,text,use').length};
               })"""
        )
        page.screenshot(path=str(tmp_path / "shot.png"), full_page=False)
        browser.close()
    assert not [m for m in messages if m.startswith(("error", "pageerror"))], messages
    assert [u for u in requests if not u.startswith("file:")] == [], (
        "the report loads nothing from the network"
    )
    assert len(figs) == n_fig
    for f in figs:
        assert f is not None and f["w"] > 100 and f["h"] > 100 and f["n"] > 10, f


def test_example_config_is_valid_and_equals_defaults():
    from pathlib import Path

    from rlmeta.report import load_config

    cfg = load_config(Path(__file__).resolve().parents[1] / "examples" / "rlmeta.toml")
    assert cfg == ReportConfig()


def test_help_documents_every_flag():
    from typer.testing import CliRunner

    from rlmeta.cli import app

    out = CliRunner().invoke(app, ["report", "--help"]).output
    for flag in (
        "--output",
        "--config",
        "--measure",
        "--rho",
        "--method",
        "--test",
        "--seed",
        "--title",
        "--quiet",
    ):
        assert flag in out


def _two_runs(tmp_path):
    import numpy as np

    from tests import evalgen

    rng = np.random.default_rng(3)
    rl, base = {}, {}
    for task, (n, p0, d) in {
        "gsm8k": (120, 0.5, 0.1),
        "arc": (100, 0.6, 0.0),
        "mmlu": (150, 0.45, 0.05),
    }.items():
        latent = rng.normal(size=n)
        base[task] = (
            (latent + rng.normal(scale=0.8, size=n) < np.quantile(latent, p0))
            .astype(float)
            .tolist()
        )
        rl[task] = (
            (latent + rng.normal(scale=0.8, size=n) < np.quantile(latent, p0 + d))
            .astype(float)
            .tolist()
        )
    evalgen.lm_eval_v043(tmp_path / "rl", "org/rl-7b", rl)
    evalgen.lm_eval_v043(tmp_path / "base", "org/base-7b", base)
    return tmp_path / "rl", tmp_path / "base", rl, base


def test_report_from_two_harness_runs_pairs_items(tmp_path):
    rl_dir, base_dir, rl, base = _two_runs(tmp_path)
    cfg = ReportConfig(gosh_subsets=200, spec_max=20, spec_boot=0, permutations=50)
    rep = build_report(rl=str(rl_dir), baseline=str(base_dir), config=cfg)
    assert not rep.failed(), [(s.title, s.note) for s in rep.failed()]
    html = render_html(rep)
    assert "3 effect sizes" in html
    # the paired mean difference of the first benchmark is the difference of the item means
    import numpy as np

    diff = 100 * (np.mean(rl["gsm8k"]) - np.mean(base["gsm8k"]))
    assert f"{diff / 100:.4f}" in html
    headline = next(s for s in rep.sections if s.id == "headline")
    assert any(
        "not available" in str(b.content) for b in headline.blocks
    )  # one comparison: no multilevel model
    with pytest.raises(rm.ConfigError, match="both rl= and baseline="):
        build_report(rl=str(rl_dir), config=cfg)


def test_report_from_long_layout_csv(tmp_path):
    w = rm.datasets.load_rl_llm_studies(derived=False).head(30)
    rows = []
    for _, r in w.iterrows():
        for arm in ("rl", "baseline"):
            rows.append(
                {
                    "study_id": r["study_id"],
                    "comparison_id": r["comparison_id"],
                    "benchmark": r["benchmark"],
                    "metric": r["metric"],
                    "arm": arm,
                    "score": r[f"{arm}_score"],
                    "n": r["n_items"],
                    "score_scale": r["score_scale"],
                    "higher_is_better": r["higher_is_better"],
                }
            )
    path = tmp_path / "long.csv"
    import pandas as pd

    pd.DataFrame(rows).to_csv(path, index=False)
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        rep = build_report(
            [str(path)], config=ReportConfig(gosh_subsets=200, spec_max=20, spec_boot=0)
        )
    assert not rep.failed(), [(s.title, s.note) for s in rep.failed()]
    assert "effect sizes" in rep.subtitle
    # rlmeta's own warnings (here: the PCA's missing-value policy) go into the report's
    # limitations, not to stderr where a reader of the report never sees them
    assert not [w for w in caught if issubclass(w.category, rm.errors.RlmetaWarning)]
    limits = next(s for s in rep.sections if s.id == "limitations")
    listed = " ".join(str(b.content) for b in limits.blocks)
    assert "Warning raised during the analysis: missing-value policy" in listed
