"""Specification curve: each specification equals the model fitted by hand; choices, skips, null test."""

from __future__ import annotations

import importlib.machinery
import sys
import types

import numpy as np
import pandas as pd
import pytest

import rlmeta as rm
from rlmeta.errors import ConfigError
from rlmeta.sensitivity import influence, specification_curve
from rlmeta.sensitivity._specfit import parse_outlier_rule
from tests._tol import ITERATIVE, close

pytestmark = pytest.mark.filterwarnings("ignore")

DATA = rm.datasets.load_rl_llm_studies()
BIG = {
    "measure": ["RD", "OR", "AS", "SMD"],
    "rho": [0, 0.5, 0.8],
    "method": ["REML", "DL", "PM", "EE", "SJ"],
    "test": ["z", "knha"],
    "rl_family": {"all": None, "DPO": "DPO", "GRPO": "GRPO"},
    "judge_based": ["all", False],
    "outliers": ["none", "rstudent>2.5", "influential"],
    "dependence": ["independent", "3-level", "CR2"],
}


@pytest.fixture(scope="module")
def big():
    return specification_curve(DATA, BIG, effect_kwargs={"assumed_sd": 2.0}, quiet=True)


def _by_hand(row, rules=None):
    kw = {"assumed_sd": 2.0}
    if row["measure"] == "RD":
        kw["rho"] = float(row["rho"])
    eff = rm.effect_sizes(DATA, measure=row["measure"], **kw)
    if row["rl_family"] != "all":
        eff = eff[eff["rl_family"] == row["rl_family"]]
    if row["judge_based"] != "all":
        eff = eff[~eff["judge_based"]]
    eff = eff.reset_index(drop=True)
    res = rm.meta_analysis(eff, method=row["method"], test=row["test"])
    if row["outliers"] != "none":
        inf = influence(res).to_frame()
        drop = (
            inf["influential"] if row["outliers"] == "influential" else inf["rstudent"].abs() > 2.5
        )
        res = rm.meta_analysis(
            eff[~drop.to_numpy()].reset_index(drop=True), method=row["method"], test=row["test"]
        )
    return res


def test_size_and_contract(big):
    f = big.to_frame()
    assert big.n_specs >= 1000
    assert list(f.columns[:8]) == [
        "spec_id",
        "estimate",
        "se",
        "ci_low",
        "ci_high",
        "pval",
        "k",
        "significant",
    ]
    for name in BIG:
        assert name in f.columns
    # rho only varies for the risk difference
    assert f.loc[f["measure"] != "RD", "rho"].isna().all()
    assert set(f.loc[f["measure"] == "RD", "rho"]) == {"0", "0.5", "0.8"}
    assert len(f) == (3 + 3) * 5 * 2 * 3 * 2 * 3 * 3
    assert f["spec_id"].tolist() == list(range(len(f)))
    assert 0 <= big.share_positive <= 1 and 0 <= big.share_significant <= 1
    assert big.to_json()
    assert "Specification curve" in big.summary()


def test_every_independent_spec_matches_meta_analysis(big):
    f = big.fitted
    f = f[f["dependence"] == "independent"]
    rng = np.random.default_rng(3)
    for i in rng.choice(len(f), size=25, replace=False):
        row = f.iloc[i]
        res = _by_hand(row)
        tab = res.to_frame().iloc[0]
        assert row["k"] == res.k
        close(
            [row["estimate"], row["se"], row["ci_low"], row["ci_high"]],
            [tab["estimate"], tab["se"], tab["ci_low"], tab["ci_high"]],
            ITERATIVE,
            atol=1e-10,
            what=str(row.to_dict()),
        )
        close(row["pval"], tab["pval"], ITERATIVE, atol=1e-12)
        close(row["tau2"], res.tau2 if res.random else 0.0, ITERATIVE, atol=1e-10)


def test_missing_dependence_models_are_skipped_with_reason(big):
    f = big.to_frame()
    ml = f[f["dependence"] == "3-level"]
    rob = f[f["dependence"] == "CR2"]
    have_ml = importlib.util.find_spec("rlmeta.meta.multilevel") is not None
    have_rob = importlib.util.find_spec("rlmeta.meta.robust") is not None
    if not have_ml:
        assert ml["status"].str.contains("multilevel models are not available").all()
        assert ml["estimate"].isna().all()
    if not have_rob:
        assert rob["status"].str.contains("cluster-robust inference is not available").all()
    assert not f.loc[f["status"] != "ok", "significant"].any()


class _FakeResult:
    def __init__(self, est):
        self.est = est

    def to_frame(self):
        return pd.DataFrame(
            {
                "term": ["intercept"],
                "estimate": [self.est],
                "se": [0.01],
                "pval": [0.5],
                "ci_low": [self.est - 0.02],
                "ci_high": [self.est + 0.02],
            }
        )


def test_dependence_models_called_when_present(monkeypatch):
    calls = []

    def fit_multilevel(data, **kw):
        calls.append((len(data), kw["random"], kw["method"]))
        return _FakeResult(1.0)

    mod = types.ModuleType("rlmeta.meta.multilevel")
    mod.fit_multilevel = fit_multilevel
    mod.__spec__ = importlib.machinery.ModuleSpec("rlmeta.meta.multilevel", None)
    monkeypatch.setitem(sys.modules, "rlmeta.meta.multilevel", mod)
    sc = specification_curve(
        DATA,
        {
            "measure": ["RD"],
            "method": ["REML"],
            "dependence": ["independent", "3-level"],
            "judge_based": ["all", False],
        },
        quiet=True,
    )
    f = sc.to_frame()
    ml = f[f["dependence"] == "3-level"]
    assert (ml["status"] == "ok").all() and (ml["estimate"] == 1.0).all()
    assert [c[1] for c in calls] == ["study_id/comparison_id"] * 2
    assert sorted(c[0] for c in calls) == sorted(f.loc[f["dependence"] == "independent", "k"])


def test_filters_labels_and_callables():
    sc = specification_curve(
        DATA,
        {
            "measure": "RD",
            "rl_family": {"all": None, "online": ["PPO", "GRPO"]},
            "year": [None, lambda fr: fr["year"] >= 2024],
        },
        quiet=True,
    )
    f = sc.to_frame()
    assert f["rl_family"].tolist() == ["all", "all", "online", "online"]
    assert f["year"].tolist() == ["all", "<lambda>", "all", "<lambda>"]
    eff = rm.effect_sizes(DATA, measure="RD")
    sub = eff[eff["rl_family"].isin(["PPO", "GRPO"]) & (eff["year"] >= 2024)]
    res = rm.meta_analysis(sub.reset_index(drop=True))
    close(f["estimate"].iloc[3], res.beta.iloc[0], ITERATIVE)


def test_too_few_effects_and_errors():
    sc = specification_curve(
        DATA, {"measure": ["RD"], "rl_family": ["SimPO", "nope"]}, min_k=7, quiet=True
    )
    f = sc.to_frame()
    assert f["status"].str.startswith("too few effects").all()
    with pytest.raises(ConfigError, match="neither"):
        specification_curve(DATA, {"not_a_column": [1]})
    with pytest.raises(ConfigError, match="outlier rule"):
        specification_curve(DATA, {"outliers": ["cooks>1"]})
    with pytest.raises(ConfigError, match="method"):
        specification_curve(DATA, {"method": ["XYZ"]})
    assert parse_outlier_rule("|rstudent| > 3") == ("rstudent", 3.0)


def test_effects_table_input_uses_given_yi():
    eff = rm.effect_sizes(DATA, measure="RD")
    sc = specification_curve(eff, {"method": ["REML", "DL"]}, quiet=True)
    close(
        sc.to_frame()["estimate"],
        [rm.meta_analysis(eff, method=m).beta.iloc[0] for m in ("REML", "DL")],
        ITERATIVE,
    )


@pytest.mark.parametrize("kind", ["bootstrap", "sign-flip"])
def test_null_test_reproducible(kind):
    ch = {
        "measure": ["RD", "AS"],
        "method": ["REML", "DL"],
        "test": ["z", "knha"],
        "judge_based": ["all", False],
    }
    sc = specification_curve(DATA, ch, quiet=True)
    a = sc.test_null(20, kind=kind, seed=5, quiet=True)
    b = sc.test_null(20, kind=kind, seed=5, quiet=True, chunk_size=7)
    c = sc.test_null(20, kind=kind, seed=6, quiet=True)
    assert a.n_iter == 20 and a.n_specs == 16
    assert set(a.pval) == {"median", "share_significant", "stouffer_z"}
    for p in a.pval.values():
        assert 1 / 21 <= p <= 1
    assert a.null_curves.shape == (20, 16)
    np.testing.assert_array_equal(
        a.null_stats.to_numpy(),
        sc.test_null(20, kind=kind, seed=5, quiet=True).null_stats.to_numpy(),
    )
    assert not np.array_equal(a.null_stats.to_numpy(), c.null_stats.to_numpy())
    assert b.n_iter == 20  # other chunking: same size, its own per-chunk seeds
    assert a.to_json() and "null" in a.summary()
    if kind == "bootstrap":
        # under the null the curves are centred near zero
        assert abs(np.median(a.null_stats["median"])) < abs(a.observed["median"])


def test_null_test_via_n_boot():
    sc = specification_curve(
        DATA, {"measure": ["RD"], "method": ["REML", "DL"]}, n_boot=10, seed=1, quiet=True
    )
    assert sc.null_test is not None and sc.null_test.n_iter == 10
    assert "null" in sc.summary()


def test_null_bootstrap_under_true_null_is_not_significant():
    rng = np.random.default_rng(11)
    k = 60
    vi = rng.uniform(0.01, 0.05, k)
    y = rng.normal(0, np.sqrt(vi + 0.01))
    y -= rm.meta_analysis(yi=y, vi=vi).beta.iloc[
        0
    ]  # observed curve centred at 0: nothing to detect
    eff = pd.DataFrame(
        {"yi": y, "vi": vi, "study_id": np.repeat(np.arange(20), 3), "grp": np.tile(["a", "b"], 30)}
    )
    sc = specification_curve(
        eff,
        {"method": ["REML", "DL", "EE"], "test": ["z", "knha"], "grp": ["all", "a", "b"]},
        quiet=True,
    )
    nt = sc.test_null(100, seed=2, quiet=True)
    assert nt.pval["median"] > 0.2
    assert nt.pval["share_significant"] > 0.2
