"""Numerical honesty: non-convergence, boundary estimates, singular designs and too few
clusters are stated in the result (``converged``, ``warnings``, ``to_dict``), in the CLI
(``rlmeta pool``: output and exit code) and in the report; no number is missing (NaN/None)
without a stated reason.
"""

from __future__ import annotations

import json
import re
import warnings

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

import rlmeta as rm
from rlmeta.errors import ConvergenceWarning, ModelError
from rlmeta.meta._core import Control

RNG = np.random.default_rng(20251121)
# heterogeneous effects with unequal variances: REML needs a few Fisher-scoring steps
Y_HET = np.array([-1.2, 0.4, 1.9, -0.3, 0.8, 2.4, -1.7, 0.1, 1.1, -0.6, 0.9, 0.2])
V_HET = np.array([0.02, 0.3, 0.05, 0.4, 0.01, 0.2, 0.15, 0.08, 0.5, 0.03, 0.25, 0.1])


def _fit(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return rm.meta_analysis(**kw)


def _effects(
    n_studies: int, per_study: int = 3, *, spread: float = 0.0, seed: int = 0
) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for s in range(n_studies):
        u = rng.normal(0, spread) if spread else 0.0
        for j in range(per_study):
            rows.append(
                {
                    "study_id": f"s{s}",
                    "comparison_id": f"s{s}c{j}",
                    "yi": 0.3 + u + rng.normal(0, 0.05),
                    "vi": 0.01 + 0.002 * j,
                    "x": float(s + j),
                    "benchmark": f"b{j}",
                }
            )
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------- results
def test_reml_nonconvergence_is_flagged_everywhere():
    with pytest.warns(ConvergenceWarning, match="did not converge in 1 iterations"):
        res = rm.meta_analysis(yi=Y_HET, vi=V_HET, method="REML", control={"maxiter": 1})
    assert res.converged is False
    assert any("did not converge" in w for w in res.warnings)
    d = res.to_dict()
    assert d["converged"] is False and any("did not converge" in w for w in d["warnings"])
    json.dumps(d)  # JSON-ready even when flagged
    assert "Warning: Fisher scoring for REML did not converge" in res.summary()
    assert _fit(yi=Y_HET, vi=V_HET, method="REML").converged  # the default settings converge


@pytest.mark.parametrize("method", ["REML", "ML", "EB", "PM", "SJ"])
def test_iterative_estimators_report_iteration_limits(method):
    res = _fit(yi=Y_HET, vi=V_HET, method=method, control={"maxiter": 1, "maxiter_root": 1})
    if not res.converged:
        assert res.warnings and res.to_dict()["converged"] is False
    else:  # estimators that need no iteration here must still be finite and agree with default control
        ref = _fit(yi=Y_HET, vi=V_HET, method=method)
        assert np.isfinite(res.tau2) and np.isclose(res.tau2, ref.tau2, rtol=1e-3, atol=1e-6)


def test_multilevel_nonconvergence_is_flagged(monkeypatch):
    from rlmeta.meta import _mlcore, multilevel

    real = _mlcore.fit_sigma2

    def stuck(*args, **kwargs):
        fi = real(*args, **kwargs)
        fi.converged = False
        fi.messages = ["optimiser did not converge: the variance components may be imprecise"]
        return fi

    monkeypatch.setattr(multilevel, "fit_sigma2", stuck)
    with pytest.warns(ConvergenceWarning, match="optimiser did not converge"):
        res = rm.meta_analysis(_effects(6, spread=0.3), random="study_id/comparison_id")
    d = res.to_dict()
    assert res.converged is False and d["converged"] is False
    assert any("did not converge" in w for w in d["warnings"])
    assert "did not converge" in res.summary()


def test_multilevel_fallback_optimiser_is_stated():
    res = _fit(
        data=_effects(6, spread=0.3), random="study_id/comparison_id", control={"maxiter": 1}
    )
    assert res.converged
    assert any("finished with L-BFGS-B" in w for w in res.warnings)
    ref = _fit(data=_effects(6, spread=0.3), random="study_id/comparison_id")
    np.testing.assert_allclose(res.sigma2, ref.sigma2, rtol=1e-4, atol=1e-8)


def test_tau2_at_the_boundary_is_stated():
    y = np.array([0.30, 0.31, 0.29, 0.30, 0.305])
    res = _fit(yi=y, vi=np.full(5, 0.04), method="REML")
    assert res.tau2 == 0
    assert any("tau^2 is estimated at the boundary (0)" in w for w in res.to_dict()["warnings"])
    fe = _fit(yi=y, vi=np.full(5, 0.04), method="EE")
    assert np.isclose(res.beta.iloc[0], fe.beta.iloc[0])
    het = _fit(yi=Y_HET, vi=V_HET)
    assert not any("boundary" in w for w in het.warnings)


def test_sigma2_at_the_boundary_is_stated():
    eff = _effects(5, spread=0.0)  # no between-study variance at all
    res = _fit(data=eff, random="study_id/comparison_id")
    assert any(
        re.search(r"sigma2 of level '.*' is estimated at the boundary", w)
        for w in res.to_dict()["warnings"]
    )


def test_collinear_moderators_are_dropped_with_a_warning():
    eff = _effects(6, spread=0.2)
    eff["x2"] = 2 * eff["x"] + 1
    with pytest.warns(
        rm.errors.DataWarning, match="redundant predictors dropped from the model: x2"
    ):
        res = rm.meta_analysis(eff, mods="~ x + x2")
    assert res.terms == ["intercept", "x"]
    assert "redundant predictors dropped from the model: x2" in res.to_dict()["warnings"]


def test_more_parameters_than_effects_is_a_model_error():
    eff = _effects(1, per_study=3)
    eff["z"] = [1.0, 5.0, 2.0]
    with pytest.raises(
        ModelError,
        match=r"number of parameters to estimate \(4\) is larger than the number of effects \(k = 3\)",
    ):
        _fit(data=eff, mods="~ x + z")


@pytest.mark.parametrize("adjust", ["CR2", "CR1"])
def test_too_few_clusters_for_robust_inference(adjust):
    ml2 = _fit(data=_effects(2, per_study=4, spread=0.2), random="study_id/comparison_id")
    rob = ml2.robust("study_id", adjust=adjust)
    assert any("small degrees of freedom (< 4)" in w for w in rob.warnings)
    assert rob.to_dict()["warnings"] == rob.warnings
    assert "small degrees of freedom" in rob.summary()
    ml3 = _fit(data=_effects(3, per_study=4, spread=0.2), random="study_id/comparison_id")
    assert any(
        "small degrees of freedom" in w for w in ml3.robust("study_id", adjust=adjust).warnings
    )
    ml1 = _fit(data=_effects(1, per_study=6), random="study_id/comparison_id")
    with pytest.raises(ModelError, match="at least 2 clusters"):
        ml1.robust("study_id", adjust=adjust)
    mods = _fit(
        data=_effects(2, per_study=4, spread=0.2), random="study_id/comparison_id", mods="~ x"
    )
    with pytest.raises(
        ModelError,
        match=r"number of clusters \(2\) must be larger than the number of coefficients \(2\)",
    ):
        mods.robust("study_id", adjust=adjust)


# --------------------------------------------------------------------------- no silent NaN
def _nulls(obj, prefix=""):
    if isinstance(obj, dict):
        return [p for k, v in obj.items() for p in _nulls(v, f"{prefix}{k}.")]
    if isinstance(obj, list):
        return [p for i, v in enumerate(obj) for p in _nulls(v, f"{prefix}{i}.")]
    return [prefix[:-1]] if obj is None or (isinstance(obj, float) and not np.isfinite(obj)) else []


#: Fields that are absent by construction, not because a computation failed.
STRUCTURAL = [
    r"measure",  # no measure column in the input
    r"coefficients\.\d+\.df",
    r"qm_ddf",  # z tests have no degrees of freedom
    r"pseudo_r2",  # only for meta-regression with tau^2 > 0
    r"tau2_ce",
    r"rho",  # robust: only with CE working weights
]
STRUCTURAL_FE = [r"tau2_se", r"(tau2|tau|i2|h2)_ci\.\d"]  # equal-effects models have no tau^2
#: A missing value of these fields must be explained by a warning containing the word.
EXPLAINED_BY = {"q": "Q", "q_pval": "Q", "i2": "I^2", "h2": "H^2", "tau2": "tau^2", "tau": "tau^2"}

SCENARIOS = {
    "converged": dict(yi=Y_HET, vi=V_HET),
    "not converged": dict(yi=Y_HET, vi=V_HET, control={"maxiter": 1}),
    "tau2 boundary": dict(yi=np.full(5, 0.3), vi=np.full(5, 0.04)),
    "zero sampling variance": dict(yi=Y_HET, vi=np.r_[0.0, V_HET[1:]], method="REML"),
    "k = 1": dict(yi=[0.3], vi=[0.1]),
    "k = 2, knha": dict(yi=[0.3, 0.5], vi=[0.1, 0.2], test="knha"),
    "equal effects": dict(yi=Y_HET, vi=V_HET, method="EE"),
    "extreme variance ratio": dict(yi=Y_HET, vi=np.r_[1e-12, V_HET[1:] * 1e6]),
    "meta-regression": dict(data=_effects(6, spread=0.3), mods="~ x"),
    "collinear": dict(
        data=_effects(6, spread=0.3).assign(x2=lambda d: 3 * d["x"]), mods="~ x + x2"
    ),
    "multilevel": dict(data=_effects(6, spread=0.3), random="study_id/comparison_id"),
    "multilevel, boundary": dict(data=_effects(4), random="study_id/comparison_id"),
    "multilevel, 2 studies": dict(
        data=_effects(2, per_study=4, spread=0.2), random="study_id/comparison_id"
    ),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_no_missing_number_without_a_stated_reason(name):
    res = _fit(**SCENARIOS[name])
    outputs = [(res.to_dict(), res.warnings)]
    if "random" in SCENARIOS[name]:
        rob = res.robust("study_id")
        outputs.append((rob.to_dict(), rob.warnings + res.warnings))
    for d, msgs in outputs:
        structural = STRUCTURAL + (STRUCTURAL_FE if d.get("method") in ("EE", "FE") else [])
        unexplained = [k for k in _nulls(d) if not any(re.fullmatch(p, k) for p in structural)]
        if unexplained:
            text = " ".join(msgs)
            assert msgs, f"{name}: missing {unexplained} without any warning"
            for key in unexplained:
                word = EXPLAINED_BY.get(key.split(".")[0].removesuffix("_ci"))
                assert word is None or word in text, f"{name}: {key} missing; warnings: {msgs}"


# --------------------------------------------------------------------------- CLI
def _csv(tmp_path, eff: pd.DataFrame, name="eff.csv"):
    p = tmp_path / name
    eff.to_csv(p, index=False)
    return str(p)


def _invoke(args):
    from rlmeta.cli import app

    return CliRunner().invoke(app, args)


def _json_out(result) -> dict:
    return json.loads(result.stdout[result.stdout.index("{") :])


def test_cli_pool_reports_nonconvergence_with_exit_code_7(tmp_path, monkeypatch):
    eff = pd.DataFrame({"yi": Y_HET, "vi": V_HET, "study_id": [f"s{i}" for i in range(len(Y_HET))]})
    path = _csv(tmp_path, eff)
    ok = _invoke(["pool", path, "--json"])
    assert ok.exit_code == 0 and _json_out(ok)["model"]["converged"] is True
    monkeypatch.setattr(Control, "from_mapping", classmethod(lambda cls, control: cls(maxiter=1)))
    res = _invoke(["pool", path, "--json"])
    assert res.exit_code == 7, res.output
    doc = _json_out(res)
    assert doc["model"]["converged"] is False
    assert any("did not converge" in w for w in doc["model"]["warnings"])
    text = _invoke(["pool", path])
    assert (
        text.exit_code == 7 and "Warning: Fisher scoring for REML did not converge" in text.stdout
    )
    assert "did not converge" in text.output


def test_cli_pool_json_states_boundary_collinearity_and_few_clusters(tmp_path):
    flat = pd.DataFrame({"yi": np.full(5, 0.3), "vi": np.full(5, 0.04)})
    doc = _json_out(_invoke(["pool", _csv(tmp_path, flat, "flat.csv"), "--json"]))
    assert any("boundary" in w for w in doc["model"]["warnings"])

    eff = _effects(6, spread=0.3).assign(x2=lambda d: 2 * d["x"])
    res = _invoke(["pool", _csv(tmp_path, eff, "col.csv"), "--json", "--mods", "~ x + x2"])
    assert res.exit_code == 0, res.output
    assert "redundant predictors dropped from the model: x2" in _json_out(res)["model"]["warnings"]

    two = _effects(2, per_study=4, spread=0.2)
    res = _invoke(
        [
            "pool",
            _csv(tmp_path, two, "two.csv"),
            "--json",
            "--random",
            "study_id/comparison_id",
            "--robust",
            "study_id",
        ]
    )
    assert res.exit_code == 0, res.output
    doc = _json_out(res)
    assert any("small degrees of freedom" in w for w in doc["robust"]["warnings"])

    res = _invoke(
        [
            "pool",
            _csv(tmp_path, _effects(1, per_study=3).assign(z=[1.0, 5.0, 2.0]), "tiny.csv"),
            "--mods",
            "~ x + z",
        ]
    )
    assert (
        res.exit_code == 4
        and "model error" in res.output
        and "larger than the number of effects" in res.output
    )


# --------------------------------------------------------------------------- report
@pytest.fixture
def core_sections(monkeypatch):
    """Only the sections that carry these statements (the full report is tested elsewhere)."""
    from rlmeta.report import build

    keep = {"data", "headline", "limitations"}
    monkeypatch.setattr(build, "SECTION_ORDER", [s for s in build.SECTION_ORDER if s[0] in keep])


def _report_text(data: pd.DataFrame) -> tuple[str, object]:
    from rlmeta.report import ReportConfig, build_report
    from rlmeta.report.render import render_html

    cfg = ReportConfig().override(formats=["html"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rep = build_report(data=data, config=cfg)
    lim = next(s for s in rep.sections if s.id == "limitations")
    items = [x for b in lim.blocks if b.kind == "items" for x in b.content]
    return render_html(rep), items


def test_report_states_few_clusters_and_boundary_estimates(core_sections):
    data = _effects(2, per_study=4, spread=0.0)
    data["comparison_id"] = data["comparison_id"].str[:-1] + (data.index % 4 // 2).astype(str)
    html, limitations = _report_text(data)
    joined = " ".join(limitations)
    assert "small degrees of freedom (< 4)" in joined  # robust test with 2 studies
    assert "is estimated at the boundary" in joined  # sigma2 of the study level is 0
    assert "small degrees of freedom (&lt; 4)" in html


def test_report_states_nonconvergence(core_sections, monkeypatch):
    monkeypatch.setattr(Control, "from_mapping", classmethod(lambda cls, control: cls(maxiter=1)))
    data = pd.DataFrame(
        {
            "yi": Y_HET,
            "vi": V_HET,
            "study_id": [f"s{i // 2}" for i in range(12)],
            "comparison_id": [f"c{i}" for i in range(12)],
        }
    )
    html, limitations = _report_text(data)
    assert any("did not converge" in x for x in limitations)
    assert "Fisher scoring for REML did not converge" in html
