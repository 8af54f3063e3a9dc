"""Effect sizes against metafor's escalc (golden values from tests/reference/make_golden_uni.R)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rlmeta as rm
from tests._tol import CLOSED, close


def _wide_cont(inp: dict, paired: bool = False) -> pd.DataFrame:
    d = pd.DataFrame(inp)
    out = pd.DataFrame(
        {
            "study_id": [f"s{i}" for i in range(len(d))],
            "benchmark": "b",
            "rl_score": d["m1"],
            "baseline_score": d["m2"],
            "rl_sd": d["sd1"],
            "baseline_sd": d["sd2"],
            "rl_n": d["n1"],
            "baseline_n": d["n1"] if paired else d["n2"],
        }
    )
    if paired:
        out["r"] = d["r"]
    return out


def _wide_prop(inp: dict) -> pd.DataFrame:
    d = pd.DataFrame(inp)
    return pd.DataFrame(
        {
            "study_id": [f"s{i}" for i in range(len(d))],
            "benchmark": "b",
            "rl_score": d["p1"],
            "baseline_score": d["p2"],
            "rl_n": d["n"],
            "baseline_n": d["n2"],
            "score_scale": "proportion",
        }
    )


def _effects_all_rows(frame, measure, **kw):
    """Effects aligned to the input rows (rows rlmeta drops come back as NaN)."""
    eff = rm.effect_sizes(frame, measure=measure, **kw)
    eff = eff.set_index("study_id").reindex(frame["study_id"])
    return eff["yi"].to_numpy(float), eff["vi"].to_numpy(float), eff


@pytest.mark.parametrize("measure", ["MD", "SMD", "SMDH", "ROM"])
def test_two_group_continuous(golden_escalc, measure):
    g = golden_escalc["escalc"][measure]
    frame = _wide_cont(g["input"])
    ok = np.asarray(frame["rl_n"]) >= 2
    yi, vi, _ = _effects_all_rows(frame[ok].reset_index(drop=True), measure)
    close(yi, np.asarray(g["yi"], float)[ok], CLOSED, what=f"{measure} yi")
    close(vi, np.asarray(g["vi"], float)[ok], CLOSED, what=f"{measure} vi")


@pytest.mark.parametrize("measure", ["MC", "SMCC", "SMCR"])
def test_paired_change_scores(golden_escalc, measure):
    g = golden_escalc["escalc"][measure]
    frame = _wide_cont(g["input"], paired=True)
    yi, vi, _ = _effects_all_rows(frame, measure)
    close(yi, g["yi"], CLOSED, what=f"{measure} yi")
    close(vi, g["vi"], CLOSED, what=f"{measure} vi")


def test_smd_from_t(golden_escalc):
    g = golden_escalc["escalc"]["SMD_from_t"]
    d = pd.DataFrame(g["input"])
    dz = rm.effects.d_from_t(d["t"], d["n1"], d["n2"])
    J = rm.effects.hedges_correction(d["n1"] + d["n2"] - 2)
    yi = J * dz
    vi = 1 / d["n1"] + 1 / d["n2"] + yi**2 / (2 * (d["n1"] + d["n2"]))
    close(yi, g["yi"], CLOSED)
    close(vi, g["vi"], CLOSED)


@pytest.mark.parametrize(
    "measure,key,kw",
    [
        ("RD", "RD", {}),
        ("LOR", "OR", {}),
        ("LRR", "RR", {}),
        ("AS", "AS", {}),
        ("OR", "OR_to_all", {"to": "all"}),
        ("RR", "RR_to_none", {"to": "none"}),
    ],
)
def test_proportions(golden_escalc, measure, key, kw):
    g = golden_escalc["escalc"][key]
    frame = _wide_prop(g["input"])
    yi, vi, _ = _effects_all_rows(frame, measure, **kw)
    exp_y = np.asarray(np.where(np.equal(g["yi"], None), np.nan, g["yi"]), float)
    exp_v = np.asarray(np.where(np.equal(g["vi"], None), np.nan, g["vi"]), float)
    # metafor returns a value with a zero variance (e.g. RD of 0 vs 0); rlmeta drops such rows
    # with a reason (they carry no precision information), so compare where rlmeta kept the row.
    keep = ~np.isnan(yi)
    dropped_by_metafor = np.isnan(exp_y)
    assert not np.any(keep & dropped_by_metafor), "rlmeta kept a row metafor could not compute"
    assert np.all(keep | (exp_v == 0) | np.isnan(exp_v) | ~np.isfinite(exp_y)), (
        "rlmeta dropped a computable row"
    )
    close(yi[keep], exp_y[keep], CLOSED, what=f"{measure} yi")
    close(vi[keep], exp_v[keep], CLOSED, what=f"{measure} vi")


def test_published_datasets(golden_escalc):
    g = golden_escalc["escalc"]["normand_SMD"]
    d = pd.DataFrame(g["input"])
    frame = pd.DataFrame(
        {
            "study_id": [f"s{i}" for i in range(len(d))],
            "benchmark": "b",
            "rl_score": d["m1i"],
            "baseline_score": d["m2i"],
            "rl_sd": d["sd1i"],
            "baseline_sd": d["sd2i"],
            "rl_n": d["n1i"],
            "baseline_n": d["n2i"],
        }
    )
    yi, vi, _ = _effects_all_rows(frame, "SMD")
    close(yi, g["yi"], CLOSED)
    close(vi, g["vi"], CLOSED)
    # published row values (meta_anchors.md C8)
    assert yi[0] == pytest.approx(-0.355170, abs=5e-7)
    assert vi[0] == pytest.approx(0.013065, abs=5e-7)
    gm = golden_escalc["escalc"]["normand_MD"]
    yi, vi, _ = _effects_all_rows(frame, "MD")
    close(yi, gm["yi"], CLOSED)
    close(vi, gm["vi"], CLOSED)
    assert vi[0] == pytest.approx(40.508023, abs=1e-6)
    gb = golden_escalc["escalc"]["bcg_RR"]
    b = pd.DataFrame(gb["input"])
    n1, n2 = b["tpos"] + b["tneg"], b["cpos"] + b["cneg"]
    frame = pd.DataFrame(
        {
            "study_id": [f"t{i}" for i in range(len(b))],
            "benchmark": "bcg",
            "rl_score": b["tpos"] / n1,
            "baseline_score": b["cpos"] / n2,
            "rl_n": n1,
            "baseline_n": n2,
            "score_scale": "proportion",
        }
    )
    yi, vi, _ = _effects_all_rows(frame, "RR")
    close(yi, gb["yi"], CLOSED)
    close(vi, gb["vi"], CLOSED)


def test_cohens_d_without_correction():
    frame = pd.DataFrame(
        {
            "study_id": ["a"],
            "benchmark": "b",
            "rl_score": [12.0],
            "baseline_score": [10.0],
            "rl_sd": [2.0],
            "baseline_sd": [4.0],
            "rl_n": [10],
            "baseline_n": [30],
        }
    )
    eff = rm.effect_sizes(frame, measure="SMD", correct=False)
    sp = np.sqrt((9 * 4 + 29 * 16) / 38)
    d = 2 / sp
    assert eff["yi"].iloc[0] == pytest.approx(d, rel=1e-12)
    assert eff["vi"].iloc[0] == pytest.approx(1 / 10 + 1 / 30 + d**2 / 80, rel=1e-12)
