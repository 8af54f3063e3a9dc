"""The gallery (every figure on the bundled dataset, at full scale) has no overlapping text."""

from __future__ import annotations

import importlib.util
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import pytest

from tests.plots_helpers import overlapping_texts

GALLERY = Path(__file__).resolve().parents[1] / "scripts" / "gallery.py"


def _gallery():
    spec = importlib.util.spec_from_file_location("rlmeta_gallery", GALLERY)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.slow
def test_gallery_figures_have_no_overlapping_text():
    warnings.filterwarnings("ignore", category=RuntimeWarning)
    bad = {}
    for name, make in _gallery().figures(include_big=False):
        fig = make()
        pairs = overlapping_texts(fig)
        if pairs:
            bad[name] = pairs[:3]
        plt.close(fig)
    assert bad == {}


def test_gallery_writes_png(tmp_path):
    _gallery().main(["--out", str(tmp_path), "--only", "forest_5,funnel", "--no-big"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["forest_5.png", "funnel.png"]
