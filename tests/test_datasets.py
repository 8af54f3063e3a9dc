"""The bundled dataset: content, derived columns, and packaging in a wheel."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

import rlmeta as rm

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data" / "rl_llm_studies.csv"


def test_shape_and_ids():
    df = rm.datasets.load_rl_llm_studies()
    assert df.shape[0] == 153
    assert df["study_id"].nunique() == 12 and df["comparison_id"].nunique() == 36
    assert df["source_row"].tolist() == list(range(1, 154))
    assert (df["higher_is_better"] == False).sum() == 3  # noqa: E712 - ToxiGen rows


def test_file_unchanged_from_curated_copy():
    if not SHARED.is_file():
        pytest.skip("../shared not present")
    ours = (ROOT / "data" / "rl_llm_studies.csv").read_bytes()
    assert hashlib.sha256(ours).hexdigest() == hashlib.sha256(SHARED.read_bytes()).hexdigest()


def test_derived_columns():
    df = rm.datasets.load_rl_llm_studies()
    for col in rm.datasets.DERIVED_COLUMNS:
        assert col in df.columns, col
    raw = rm.datasets.load_rl_llm_studies(derived=False)
    assert not set(rm.datasets.DERIVED_COLUMNS) & set(raw.columns)
    row = df[df["learning_rate"] == "DPO 5e-7 then RLVR 3e-7"].iloc[0]
    assert row["learning_rate_num"] == pytest.approx(5e-7)
    assert row["log10_learning_rate"] == pytest.approx(np.log10(5e-7))
    assert df.loc[df["kl_coef_or_beta"].str.startswith("none"), "kl_coef_num"].eq(0).all()
    assert set(df["baseline_family"]) == {"SFT", "instruct", "base"}
    assert df.loc[df["benchmark"] == "MT-Bench", "judge_based"].all()
    assert df.loc[df["benchmark"] == "GSM8K", "benchmark_family"].eq("math").all()
    assert not df.loc[df["peer_reviewed"] == "preprint (arXiv)", "peer_reviewed_bool"].any()


@pytest.mark.slow
def test_dataset_loads_from_installed_wheel(tmp_path):
    """Build a wheel, install it into a private folder and load the data from there."""
    wheel_dir = tmp_path / "wheel"
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            str(ROOT),
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(wheel_dir),
            "-q",
        ],
        capture_output=True,
        text=True,
    )
    if build.returncode != 0 and "hatchling" in build.stderr:
        build = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "wheel",
                str(ROOT),
                "--no-deps",
                "-w",
                str(wheel_dir),
                "-q",
            ],
            capture_output=True,
            text=True,
        )
    assert build.returncode == 0, build.stderr
    wheel = next(wheel_dir.glob("rlmeta-*.whl"))
    assert "rlmeta/datasets/data/rl_llm_studies.csv" in zipfile.ZipFile(wheel).namelist()
    target = tmp_path / "site"
    inst = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--no-deps",
            "--target",
            str(target),
            str(wheel),
            "-q",
        ],
        capture_output=True,
        text=True,
    )
    assert inst.returncode == 0, inst.stderr
    code = (
        "import rlmeta, pathlib; df = rlmeta.datasets.load_rl_llm_studies(); "
        "p = rlmeta.datasets.dataset_path(); "
        "print(len(df), str(p).startswith(str(pathlib.Path(rlmeta.__file__).parent)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env={"PYTHONPATH": str(target), "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["153", "True"]
