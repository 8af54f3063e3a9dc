"""Writing figures: SVG/PNG/PDF at a size, atomically; inline SVG for HTML; doctests."""

from __future__ import annotations

import doctest
import importlib
import re
import struct

import matplotlib.pyplot as plt
import pytest

import rlmeta.plots as rp
from tests.plots_helpers import pca_result, rc_snapshot


@pytest.fixture
def fig():
    return rp.pca_scree(pca_result())


def png_size(path):
    with open(path, "rb") as fh:
        head = fh.read(24)
    return struct.unpack(">II", head[16:24])


@pytest.mark.parametrize("ext", ["svg", "png", "pdf"])
def test_save_formats_atomically(tmp_path, fig, ext):
    before = rc_snapshot()
    out = rp.save(fig, tmp_path / f"f.{ext}", width=5, height=3)
    assert out.exists() and out.stat().st_size > 0
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"f.{ext}"]  # no temporary file left
    assert rc_snapshot() == before
    head = out.read_bytes()[:5]
    assert head.startswith({"svg": b"<?xml", "png": b"\x89PNG", "pdf": b"%PDF-"}[ext])


def test_save_size_and_units(tmp_path, fig):
    size = fig.get_size_inches().copy()
    rp.save(fig, tmp_path / "a.png", width=4, height=2, dpi=100)
    assert png_size(tmp_path / "a.png") == (400, 200)
    rp.save(fig, tmp_path / "b.png", width=80, height=40, units="mm", dpi=254)
    assert png_size(tmp_path / "b.png") == (800, 400)
    rp.save(fig, tmp_path / "c.png", width=300, units="px", dpi=100)
    w, h = png_size(tmp_path / "c.png")
    assert w == 300 and h == round(300 * size[1] / size[0])
    assert (fig.get_size_inches() == size).all()  # restored


def test_save_svg_text_is_text_and_pdf_fonts_embedded(tmp_path, fig):
    rp.save(fig, tmp_path / "a.svg")
    svg = (tmp_path / "a.svg").read_text()
    assert "<text" in svg and "Variance explained" in svg
    rp.save(fig, tmp_path / "a.pdf")
    pdf = (tmp_path / "a.pdf").read_bytes()
    assert b"/FontFile2" in pdf  # TrueType embedded (pdf.fonttype 42)
    assert b"CreationDate" not in pdf


def test_save_is_deterministic(tmp_path, fig):
    rp.save(fig, tmp_path / "a.svg")
    rp.save(fig, tmp_path / "b.svg")
    assert (tmp_path / "a.svg").read_bytes() == (tmp_path / "b.svg").read_bytes()


def test_save_failure_leaves_old_file(tmp_path, fig):
    target = tmp_path / "keep.png"
    target.write_bytes(b"old")
    with pytest.raises(ValueError, match="`format`"):
        rp.save(fig, target, format="gif")
    assert target.read_bytes() == b"old"


def test_to_svg_inline(fig):
    svg = rp.to_svg(fig)
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert "<?xml" not in svg and "DOCTYPE" not in svg and "<metadata" not in svg
    assert "<text" in svg and "Variance explained" in svg
    # nothing to fetch: no http(s) references in href/src/url()
    assert not re.search(r'(?:href|src)="(?:https?:)?//', svg)
    assert not re.search(r"url\((?!#)", svg)
    # ids are prefixed, and references follow
    ids = re.findall(r'\bid="([^"]+)"', svg)
    assert ids and len({i.split("-")[0] for i in ids}) == 1
    for ref in re.findall(r"url\(#([^)]+)\)", svg):
        assert ref in ids
    other = rp.to_svg(rp.pca_scree({"explained_variance_ratio": [0.9, 0.1]}))
    assert set(re.findall(r'\bid="([^"]+)"', other)).isdisjoint(ids)
    assert "sans-serif" in svg


def test_to_svg_of_axes_and_sized(fig):
    svg = rp.to_svg(fig.axes[0], width=3, height=2, tight=False)
    assert 'width="216pt"' in svg and 'height="144pt"' in svg


MODULES = [
    "_theme",
    "_base",
    "_forestdraw",
    "_save",
    "forest",
    "funnel",
    "distributions",
    "heatmap",
    "sweeps",
    "regression",
    "sensitivity",
    "multiverse",
    "explore",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    mod = importlib.import_module(f"rlmeta.plots.{name}")
    finder = doctest.DocTestFinder()
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    for test in finder.find(mod, mod.__name__):
        runner.run(test)
        plt.close("all")
    res = runner.summarize(verbose=False)
    assert res.failed == 0


def test_every_public_function_has_an_example():
    import inspect

    for name in rp.__all__:
        obj = getattr(rp, name)
        if inspect.isfunction(obj):
            assert ">>>" in (obj.__doc__ or ""), name
            if name not in (
                "theme",
                "palette",
                "diverging_cmap",
                "prediction_grid",
                "arms_long",
                "save",
                "to_svg",
            ):
                assert "ax" in inspect.signature(obj).parameters, name
                assert "Returns" in obj.__doc__ and "otherwise ``ax``" in obj.__doc__, name
