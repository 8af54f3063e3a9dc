"""Validation messages (file, row, column, expectation) and effect-size behaviour."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import rlmeta as rm
from rlmeta.errors import EffectError, SchemaError
from rlmeta.schema import validate_long, validate_wide


def wide(**over) -> pd.DataFrame:
    base = {
        "study_id": ["s1", "s1", "s2"],
        "comparison_id": ["c1", "c1", "c2"],
        "benchmark": ["GSM8K", "MATH", "GSM8K"],
        "metric": ["acc", "acc", "acc"],
        "rl_score": [80.0, 50.0, 70.0],
        "baseline_score": [75.0, 45.0, 71.0],
        "n_items": [1319, 5000, 1319],
        "score_scale": ["percent"] * 3,
        "source": ["runs.csv"] * 3,
        "source_row": [1, 2, 3],
    }
    base.update(over)
    return pd.DataFrame(base)


@pytest.mark.parametrize(
    "frame,pattern",
    [
        (
            wide().drop(columns="rl_score"),
            r"runs.csv, column 'rl_score': missing required column\(s\) 'rl_score'.*rl_score='your_column'",
        ),
        (
            wide(rl_score=[80.0, "n/a", 70.0]),
            r"runs.csv, row 2, column 'rl_score': expected a number, got 'n/a'",
        ),
        (
            wide(rl_sd=[1.0, 0.0, 2.0]),
            r"runs.csv, row 2, column 'rl_sd': expected a standard deviation > 0, got 0",
        ),
        (
            wide(n_items=[1319, 0, 1319]),
            r"runs.csv, row 2, column 'n_items': expected a sample size >= 1, got 0",
        ),
        (
            wide(score_scale=["proportion"] * 3),
            r"runs.csv, rows 1, 2, 3, column 'rl_score': score_scale is 'proportion' so expected a value in \[0, 1\], got 80 \(looks like a percent",
        ),
        (wide(rl_score=[80.0, 101.0, 70.0]), r"row 2, column 'rl_score'.*\[0, 100\], got 101"),
        (
            wide(benchmark=["GSM8K", "GSM8K", "GSM8K"]),
            r"runs.csv, rows 1, 2, column 'metric': duplicate contrast rows",
        ),
        (
            wide(higher_is_better=[True, "maybe", True]),
            r"row 2, column 'higher_is_better': expected a boolean .* got 'maybe'",
        ),
        (
            wide(study_id=["s1", None, "s2"]),
            r"row 2, column 'study_id': expected a non-empty identifier",
        ),
        (
            wide(r=[0.5, 1.5, 0.1]),
            r"row 2, column 'r': expected a correlation in \[-1, 1\], got 1.5",
        ),
        (
            wide(rl_score=[80.0, None, 70.0]),
            r"row 2, column 'rl_score': expected a score, got an empty cell",
        ),
    ],
)
def test_wide_validation_messages(frame, pattern):
    with pytest.raises(SchemaError, match=pattern) as info:
        validate_wide(frame)
    assert info.value.file == "runs.csv"
    assert info.value.column is not None


def test_long_validation_messages():
    long = pd.DataFrame(
        {
            "study_id": ["s"] * 4,
            "arm": ["rl", "baseline", "RL", "treatment"],
            "benchmark": ["a", "a", "b", "b"],
            "score": [0.5, 0.4, 0.6, 0.5],
            "n": [100, 100, 100, 100],
        }
    )
    with pytest.raises(
        SchemaError, match=r"row 4, column 'arm': expected arm 'rl' or 'baseline', got 'treatment'"
    ):
        validate_long(long, source="arms.csv")
    ok = validate_long(long.iloc[:3].assign(arm=["rl", "baseline", "RL"]))
    assert ok["arm"].tolist() == ["rl", "baseline", "rl"]
    with pytest.raises(SchemaError, match="duplicate arm rows"):
        validate_long(long.assign(arm=["rl", "rl", "rl", "baseline"], benchmark="a"))


def test_booleans_are_parsed_not_coerced():
    ok = validate_wide(wide(higher_is_better=["yes", "FALSE", 1]))
    assert ok["higher_is_better"].tolist() == [True, False, True]


def test_direction_flip_and_measure_columns():
    eff = rm.effect_sizes(wide(higher_is_better=[True, False, True]), measure="RD")
    assert eff["direction_flipped"].tolist() == [False, True, False]
    # row 2: 50 vs 45 percent with lower-is-better -> RL worse -> negative
    assert eff["yi"].iloc[1] == pytest.approx(-0.05)
    assert eff["yi"].iloc[0] == pytest.approx(0.05)
    for col in ("measure", "yi", "vi", "sei", "ci_low", "ci_high", "var_source", "rho"):
        assert col in eff.columns
    assert (eff["ci_low"] < eff["yi"]).all() and (eff["yi"] < eff["ci_high"]).all()


def test_paired_rd_rho_formula():
    p1, p2, n = 0.8, 0.75, 1319.0
    v1, v2 = p1 * (1 - p1) / n, p2 * (1 - p2) / n
    for rho in (0.0, 0.3, 0.7):
        eff = rm.effect_sizes(wide().iloc[:1], measure="RD", rho=rho)
        assert eff["vi"].iloc[0] == pytest.approx(v1 + v2 - 2 * rho * np.sqrt(v1 * v2), rel=1e-12)
    with pytest.raises(EffectError, match="rho must be in"):
        rm.effect_sizes(wide(), measure="RD", rho=1.5)


def test_judge_scores_dropped_with_reason_unless_sd_assumed():
    df = wide(
        score_scale=["percent", "1-10", "percent"],
        rl_score=[80.0, 7.2, 70.0],
        baseline_score=[75.0, 6.9, 71.0],
    )
    eff = rm.effect_sizes(df, measure="RD")
    log = rm.drop_log(eff)
    assert len(eff) == 2 and len(log) == 1
    assert log["source_row"].iloc[0] == 2 and "needs proportions" in log["reason"].iloc[0]
    smd = rm.effect_sizes(df, measure="SMD")
    assert len(rm.drop_log(smd)) == 1 and "assumed_sd" in rm.drop_log(smd)["reason"].iloc[0]
    smd2 = rm.effect_sizes(df, measure="SMD", assumed_sd={"1-10": 1.5})
    assert (
        len(smd2) == 3
        and smd2.loc[smd2["score_scale"] == "1-10", "var_source"].iloc[0] == "assumed SD"
    )
    # Bernoulli SD for proportion rows in a continuous measure
    assert smd2["var_source"].iloc[0] == "Bernoulli SD of a proportion"


def test_missing_n_goes_to_drop_log():
    eff = rm.effect_sizes(wide(n_items=[1319, None, 1319]), measure="RD")
    log = rm.drop_log(eff)
    assert log["source_row"].tolist() == [2]
    assert "n_items" in log["reason"].iloc[0]


def test_reported_se_used_for_rd():
    df = wide(rl_se=[1.22, None, None], baseline_se=[1.23, None, None])
    eff = rm.effect_sizes(df, measure="RD")
    assert eff["var_source"].iloc[0] == "reported SE"
    assert eff["vi"].iloc[0] == pytest.approx(0.0122**2 + 0.0123**2)


def test_smd_needs_two_per_arm():
    df = wide(
        score_scale=["1-10"] * 3,
        rl_sd=[1.0, 1.0, 1.0],
        baseline_sd=[1.0, 1.0, 1.0],
        n_items=[1, 5, 5],
    )
    with pytest.raises(
        EffectError, match=r"row 1, column 'n_items': measure SMD needs a sample size >= 2"
    ):
        rm.effect_sizes(df, measure="SMD")


def test_long_layout_pivots_to_the_same_effects():
    w = wide()
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
                    "score_scale": "percent",
                }
            )
    long = pd.DataFrame(rows)
    a = rm.effect_sizes(w, measure="LOR").sort_values(["comparison_id", "benchmark"])
    b = rm.effect_sizes(long, measure="LOR").sort_values(["comparison_id", "benchmark"])
    np.testing.assert_allclose(a["yi"], b["yi"], rtol=1e-14)
    np.testing.assert_allclose(a["vi"], b["vi"], rtol=1e-14)
    with pytest.raises(EffectError, match="only one arm"):
        rm.effect_sizes(long.iloc[:5], measure="RD")


def test_conversions():
    from rlmeta import effects as E

    d = 0.5
    lor, v = E.d_to_logor(d, 0.04)
    assert E.logor_to_d(lor) == pytest.approx(d)
    assert v == pytest.approx(0.04 * np.pi**2 / 3)
    assert E.r_to_d(E.d_to_r(d)) == pytest.approx(d)
    # a signed p-value round-trips through t
    t = 2.1
    from scipy import stats

    p = 2 * stats.t.sf(t, 38)
    assert E.d_from_p(p, 20, 20, sign=1) == pytest.approx(E.d_from_t(t, 20, 20))
    assert E.d_from_p(p, 20, 20, sign=-1) == pytest.approx(-E.d_from_t(t, 20, 20))
    assert E.se_from_ci(0.1, 0.5, 0.9) == pytest.approx(0.4 / (2 * stats.norm.ppf(0.95)))


def test_unknown_measure():
    with pytest.raises(EffectError, match="unknown measure 'XYZ'"):
        rm.effect_sizes(wide(), measure="XYZ")
