"""The result of a multilevel meta-analysis (``MultilevelResult``)."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from .._result import fmt_num, jsonable
from ..errors import ModelError
from ._mlcore import FitInfo, Structure, fit_sigma2, level_stats
from ._zeroin import R_UNIROOT_TOL, zeroin
from .formula import Design
from .results import (
    AnovaResult,
    WaldTest,
    _ModelResult,
    coef_frame,
    contrast_matrix,
    prediction_frame,
    selection_matrix,
    summary_tail,
    wald_from,
)

__all__ = ["MultilevelResult"]

_EPS = np.finfo(float).eps


@dataclass(eq=False)
class MultilevelResult(_ModelResult):
    """A fitted multilevel (nested random-intercept) meta-analysis / meta-regression.

    Numbers follow metafor's ``rma.mv``; see :func:`rlmeta.meta.multilevel.fit_multilevel`.
    ``sigma2`` holds one variance component per level (top first, named as in
    :attr:`level_names`); render with :meth:`summary`, :meth:`to_frame`,
    :meth:`to_dict` or in Jupyter.
    """

    data: pd.DataFrame
    yi: np.ndarray
    vi: np.ndarray
    design: Design
    structure: Structure
    level_names: list[str]
    level_columns: list[str]
    group_labels: list[np.ndarray]
    sigma2_fixed: np.ndarray
    method: str
    test: str
    dfs: str
    ddf: np.ndarray
    level: float
    btt: list[int]
    labels: list[str]
    fitinfo: FitInfo
    qe: float
    trP: float
    trP_model: float
    ll_qe: float
    logdet_xtx: float
    V: object | None = None
    measure: str | None = None
    drop_log: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)
    ci_tol: float | None = None

    # ------------------------------------------------------------------ basics
    @property
    def ev(self):
        return self.fitinfo.evaluation

    @property
    def random(self) -> str:
        """The nesting of the random effects, e.g. ``"study_id/comparison_id"`` (truthy)."""
        return "/".join(str(c) for c in self.level_columns) or "V"

    @property
    def k(self) -> int:
        return len(self.yi)

    @property
    def p(self) -> int:
        return self.X.shape[1]

    @property
    def sigma2(self) -> np.ndarray:
        """Variance components, one per level (top first)."""
        return self.fitinfo.sigma2.copy()

    @property
    def n_groups(self) -> list[int]:
        return [len(g) for g in self.group_labels]

    @property
    def beta(self) -> pd.Series:
        return pd.Series(self.ev.beta, index=self.terms, name="estimate")

    @property
    def vcov(self) -> pd.DataFrame:
        return pd.DataFrame(self.ev.F, index=self.terms, columns=self.terms)

    @property
    def se(self) -> np.ndarray:
        return np.sqrt(np.diag(self.ev.F))

    @property
    def converged(self) -> bool:
        return bool(self.fitinfo.converged)

    @property
    def warnings(self) -> list[str]:
        return list(self.notes)

    @property
    def parms(self) -> int:
        return self.p + int((~self.sigma2_fixed).sum())

    def _crit(self, ddf, level: float | None = None):
        lvl = self.level if level is None else level
        if self.test == "t":
            return stats.t.ppf(0.5 + lvl / 2, ddf)
        return np.full(np.shape(ddf), stats.norm.ppf(0.5 + lvl / 2))

    # ------------------------------------------------------------------ coefficients
    def to_frame(self) -> pd.DataFrame:
        """Coefficient table: term, estimate, se, stat, df, pval, ci_low, ci_high."""
        b, se = self.ev.beta, self.se
        stat = b / se
        if self.test == "t":
            df = self.ddf.copy()
            pval = 2 * stats.t.sf(np.abs(stat), df)
        else:
            df = np.full(self.p, np.nan)
            pval = 2 * stats.norm.sf(np.abs(stat))
        return coef_frame(self.terms, b, se, stat, df, pval, self._crit(self.ddf))

    def wald_test(self, L=None, *, btt=None, rhs=None) -> WaldTest:
        """Wald test of coefficients (``btt``) or linear combinations ``L @ beta = rhs``.

        Chi-square under ``test="z"``; F under ``"t"`` with denominator df the smallest
        ``ddf`` of the coefficients involved (as metafor).
        """
        if L is None:
            idx = self.btt if btt is None else _btt_index(btt, self.terms)
            Lm, names = selection_matrix(list(idx), self.terms)
        else:
            Lm, names = contrast_matrix(L, self.terms)
        t_df = float(np.min(self.ddf[np.any(Lm != 0, axis=0)])) if self.test == "t" else None
        return wald_from(self.ev.beta, self.ev.F, Lm, names, rhs, t_df=t_df)

    # ------------------------------------------------------------------ heterogeneity
    @property
    def q(self) -> float:
        """Cochran's Q for residual heterogeneity: ``y' P_V y`` with the known V (metafor's QE)."""
        return self.qe if self.k > self.p else 0.0

    @property
    def q_pval(self) -> float:
        if self.k <= self.p:
            return 1.0
        return float(stats.chi2.sf(self.qe, self.k - self.p))

    @property
    def typical_v(self) -> float:
        """The 'typical' sampling variance ``(k - p) / tr(P)`` with ``P`` built from ``W = V^-1``."""
        return (self.k - self.p) / self.trP if self.k > self.p else np.nan

    @property
    def i2(self) -> float:
        """Multilevel I² (percent): ``sum(sigma2) / (sum(sigma2) + (k - p) / tr(P))``.

        ``P = W - W X (X'WX)^-1 X'W`` with ``W = V^-1`` (the inverse sampling covariance):
        Nakagawa & Santos (2012, *Evol Ecol* 26:1253), as computed for ``rma.mv`` models
        in the metafor documentation.  :meth:`i2_table` also offers ``W = M^-1``.
        """
        return float(self.i2_table().loc["total", "i2"])

    @property
    def i2_levels(self) -> dict[str, float]:
        """Per-level share: ``100 sigma2_l / (sum(sigma2) + (k - p) / tr(P))``."""
        t = self.i2_table()
        return {n: float(t.loc[n, "i2"]) for n in self.level_names}

    def i2_table(self, weights: str = "sampling") -> pd.DataFrame:
        """I² in percent, total and per level.

        Parameters
        ----------
        weights
            ``"sampling"`` (default): ``W = V^-1`` in ``P`` (metafor documentation);
            ``"marginal"``: ``W = M^-1``, the fitted model's weights (gives a smaller
            "typical" variance denominator and larger ``(k-p)/tr(P)``).

        Returns
        -------
        pandas.DataFrame
            Index ``total`` and the level names; columns ``sigma2, i2``.
        """
        if weights not in ("sampling", "marginal"):
            raise ModelError(f"weights must be 'sampling' or 'marginal', got {weights!r}")
        tr = self.trP if weights == "sampling" else self.trP_model
        vt = (self.k - self.p) / tr if self.k > self.p else np.nan
        s2 = self.sigma2
        tot = float(s2.sum())
        return pd.DataFrame(
            {"sigma2": [tot, *s2], "i2": [100 * v / (tot + vt) for v in (tot, *s2)]},
            index=["total", *self.level_names],
        )

    # ------------------------------------------------------------------ fit statistics
    def fit_stats(self, which: str | None = None) -> dict[str, float]:
        """logLik, deviance, AIC, BIC, AICc under ``"ML"`` or ``"REML"`` (default: the fit's method)."""
        which = (which or self.method).upper()
        parms = self.parms
        if which == "ML":
            ll, n = self.ev.ll_ml, self.k
            allpos = bool(np.all(self.vi > 0))
            dev = -2 * (ll - self.ll_qe) if allpos and np.isfinite(self.ll_qe) else -2 * ll
        else:
            ll, n = self.ev.ll_reml, self.k - self.p
            dev = -2 * ll
        m = max(n, parms + 2)
        return {
            "loglik": float(ll),
            "deviance": float(dev),
            "aic": float(-2 * ll + 2 * parms),
            "bic": float(-2 * ll + parms * np.log(n)) if n > 0 else np.nan,
            "aicc": float(-2 * ll + 2 * parms * m / (m - parms - 1)),
        }

    # ------------------------------------------------------------------ prediction
    def predict(
        self,
        newdata: pd.DataFrame | np.ndarray | None = None,
        *,
        level: float | None = None,
        transform=None,
    ) -> pd.DataFrame:
        """Predicted average effects with confidence and prediction intervals.

        The prediction interval adds ``sum(sigma2)`` to the variance of the prediction
        and uses the CI's critical value (as metafor's ``predict.rma`` for ``rma.mv``).
        With ``dfs="contain"`` each row takes the smallest df of its non-zero
        coefficients.

        Returns
        -------
        pandas.DataFrame
            ``pred, se, ci_low, ci_high, pi_low, pi_high``.
        """
        Xn = self._rows(newdata)
        pred = Xn @ self.ev.beta
        vpred = np.einsum("ij,jk,ik->i", Xn, self.ev.F, Xn)
        if self.dfs == "contain":
            ddf = np.array(
                [np.min(self.ddf[r != 0]) if np.any(r != 0) else self.k - self.p for r in Xn], float
            )
        else:
            ddf = np.full(len(Xn), float(self.ddf[0]))
        return prediction_frame(
            pred, vpred, self._crit(ddf, level), float(self.sigma2.sum()), transform
        )

    @property
    def pi(self) -> list[float] | None:
        """Prediction interval of the pooled effect (intercept-only models)."""
        if not self.intercept_only:
            return None
        pr = self.predict()
        return [float(pr["pi_low"].iloc[0]), float(pr["pi_high"].iloc[0])]

    def weights_percent(self, type: str = "rowsum") -> np.ndarray:
        """Weights of the effects in percent.

        ``"rowsum"`` (default): the share each effect contributes to the pooled estimate,
        the row sums of ``W = M^-1`` (the inverse marginal covariance), normalised.  This
        is what a forest plot of a multilevel model should show (effects in a large
        cluster share its weight; see metafor issue #52).  ``"diagonal"``: ``diag(W)``,
        metafor's ``weights()`` default.  Computed in O(k) through the nested factorisation.
        """
        if type == "rowsum":
            w = self.ev.factor.solve(np.ones((self.k, 1)))[:, 0]
        elif type == "diagonal":
            k = self.k
            w = np.empty(k)
            # diag(M^-1) column by column would be O(k^2); per-cluster blocks are small, so
            # solve against unit vectors in chunks (still exact).
            step = 2048
            for start in range(0, k, step):
                stop = min(start + step, k)
                E = np.zeros((k, stop - start))
                E[np.arange(start, stop), np.arange(stop - start)] = 1.0
                w[start:stop] = np.einsum("ij,ij->j", E, self.ev.factor.solve(E))
        else:
            raise ModelError(f"type must be 'rowsum' or 'diagonal', got {type!r}")
        return 100 * w / w.sum()

    def fitted(self) -> np.ndarray:
        """Fitted values ``X @ beta`` (the fixed part)."""
        return self.X @ self.ev.beta

    def ranef(self, level: float | None = None) -> dict[str, pd.DataFrame]:
        """Best linear unbiased predictions of the random effects, per level.

        ``u_g = sigma2_l 1_g' M^-1 (y - X b)`` with variance ``sigma2_l - sigma2_l^2 1_g' P 1_g``
        (as metafor's ``ranef.rma.mv``); prediction intervals use ``z``, or ``t`` with
        ``k - p`` (``dfs="residual"``) or ``groups - p`` (``"contain"``) df.

        Returns
        -------
        dict
            Level name -> DataFrame with ``group, estimate, se, pi_low, pi_high``.
        """
        out = {}
        for j, name in enumerate(self.level_names):
            s2 = float(self.sigma2[j])
            h, dP = level_stats(self.ev, self.structure, j)
            pred = s2 * h
            pred = np.where(np.abs(pred) < 100 * _EPS, 0.0, pred)
            var = s2 - s2 * s2 * dP
            se = np.sqrt(np.where(var < 0, np.nan, var))
            if self.test == "t":
                ddf = (
                    self.k - self.p if self.dfs == "residual" else max(self.n_groups[j] - self.p, 1)
                )
                crit = stats.t.ppf(0.5 + (level or self.level) / 2, ddf)
            else:
                crit = stats.norm.ppf(0.5 + (level or self.level) / 2)
            out[name] = pd.DataFrame(
                {
                    "group": self.group_labels[j],
                    "estimate": pred,
                    "se": se,
                    "pi_low": pred - crit * se,
                    "pi_high": pred + crit * se,
                }
            )
        return out

    def residuals(self) -> np.ndarray:
        """Raw residuals ``y - X b``."""
        return self.yi - self.fitted()

    # ------------------------------------------------------------------ profile-likelihood CIs
    def _profile_fit(self, j: int, val: float):
        fixed = np.where(self.sigma2_fixed, self.sigma2, np.nan)
        fixed[j] = val
        fi = fit_sigma2(
            self.structure,
            self.X,
            self.yi,
            self.method,
            np.maximum(self.sigma2, 1e-8),
            fixed,
            logdet_xtx=self.logdet_xtx,
        )
        return fi.evaluation.ll(self.method)

    def confint(self, level: float | None = None, *, tol: float | None = None) -> pd.DataFrame:
        """Profile-likelihood CIs of the variance components (metafor's ``confint(rma.mv)``).

        A bound is the value of ``sigma2_l`` where twice the drop of the (restricted)
        log-likelihood, maximised over the other components, reaches the chi-square(1)
        quantile.  The search interval and root finder follow metafor: ``[0, sigma2_l]``
        and ``[sigma2_l, max(10, 100 sigma2_l)]``, Brent's method with R's ``uniroot``
        tolerance unless ``tol`` (or ``control={'ci_tol': ...}``) is given.  A bound at
        the end of the search interval is flagged in ``ci_*_bounded``.

        Returns
        -------
        pandas.DataFrame
            Index: level names; columns ``estimate, ci_low, ci_high, ci_low_bounded,
            ci_high_bounded`` (NaN bounds for fixed components).
        """
        lvl = self.level if level is None else level
        key = (lvl, tol)
        cache = self.__dict__.setdefault("_ci_cache", {})
        if key in cache:
            return cache[key].copy()
        tol = (
            tol if tol is not None else (self.ci_tol if self.ci_tol is not None else R_UNIROOT_TOL)
        )
        crit = float(stats.chi2.ppf(lvl, 1))
        ll_hat = self.ev.ll(self.method)
        rows = []
        for j in range(len(self.level_names)):
            vc = float(self.sigma2[j])
            if self.sigma2_fixed[j]:
                rows.append((vc, np.nan, np.nan, False, False))
                continue

            def f(x, _active=None, j=j):
                xs = np.atleast_1d(x)
                return np.array([-2 * (self._profile_fit(j, float(t)) - ll_hat) - crit for t in xs])

            lo, hi, lo_b, hi_b = np.nan, np.nan, False, False
            try:
                f_lo = f(0.0)
                if f_lo[0] < 0:
                    lo = 0.0
                else:
                    r, ok = zeroin(f, np.array([0.0]), np.array([vc]), f_lo, f(vc), tol=tol)
                    lo = float(r[0]) if ok[0] else np.nan
            except ModelError:
                pass
            vmax = 10.0 if vc <= np.sqrt(_EPS) else max(10.0, vc * 100)
            try:
                f_hi = f(vmax)
                if f_hi[0] < 0:
                    hi, hi_b = vmax, True
                else:
                    r, ok = zeroin(f, np.array([vc]), np.array([vmax]), f(vc), f_hi, tol=tol)
                    hi = float(r[0]) if ok[0] else np.nan
            except ModelError:
                pass
            rows.append((vc, lo, hi, lo_b, hi_b))
        out = pd.DataFrame(
            rows,
            index=self.level_names,
            columns=["estimate", "ci_low", "ci_high", "ci_low_bounded", "ci_high_bounded"],
        )
        cache[key] = out
        return out.copy()

    # ------------------------------------------------------------------ dependence
    def robust(self, cluster, adjust: str = "CR2", **kwargs):
        """Cluster-robust inference for this model (see :func:`rlmeta.meta.robust.robust`)."""
        from .robust import robust

        return robust(self, cluster=cluster, adjust=adjust, **kwargs)

    # ------------------------------------------------------------------ model comparison
    def anova(self, reduced: MultilevelResult) -> AnovaResult:
        """Likelihood-ratio test of this model against a nested ``reduced`` one (metafor's
        ``anova(full, reduced)``): both ML fits, or REML fits with the same fixed effects
        (e.g. a variance component fixed to 0 with ``sigma2=[..., 0]``).

        The p-value is the naive chi-square one; for a variance component tested at the
        boundary it is conservative (a 50:50 mixture would halve it).
        """
        if (
            reduced.method != self.method
            or self.k != reduced.k
            or not np.allclose(self.yi, reduced.yi)
        ):
            raise ModelError(
                "anova(): both models must be fitted by the same method to the same effects"
            )
        full, red = (self, reduced) if self.parms >= reduced.parms else (reduced, self)
        if self.method == "REML" and (full.terms != red.terms or not np.allclose(full.X, red.X)):
            raise ModelError(
                "LRTs of REML fits need identical fixed effects; refit both with method='ML'"
            )
        ff, fr = full.fit_stats(), red.fit_stats()
        lrt = max(0.0, 2 * (ff["loglik"] - fr["loglik"]))
        df = full.parms - red.parms
        pval = float(stats.chi2.sf(lrt, df)) if df > 0 else np.nan
        table = pd.DataFrame(
            {
                "df": [full.parms, red.parms],
                "aic": [ff["aic"], fr["aic"]],
                "bic": [ff["bic"], fr["bic"]],
                "aicc": [ff["aicc"], fr["aicc"]],
                "loglik": [ff["loglik"], fr["loglik"]],
                "lrt": [lrt, np.nan],
                "pval": [pval, np.nan],
                "qe": [full.q, red.q],
            },
            index=["full", "reduced"],
        )
        return AnovaResult(table, lrt, df, pval, None)

    # ------------------------------------------------------------------ output
    def to_dict(self, *, ci: bool = True) -> dict:
        """JSON-ready dict: the DESIGN.md keys, with ``sigma2`` (list) in place of ``tau2``.

        ``ci=False`` skips the profile-likelihood CIs of ``sigma2`` (each needs a few
        dozen refits).
        """
        fs = self.fit_stats()
        om = self._omnibus
        out = {
            "k": self.k,
            "p": self.p,
            "method": self.method,
            "test": self.test,
            "dfs": self.dfs,
            "level": self.level,
            "measure": self.measure,
            "coefficients": self.to_frame().to_dict(orient="records"),
            "levels": list(self.level_names),
            "n_groups": self.n_groups,
            "sigma2": self.sigma2.tolist(),
            "sigma2_fixed": self.sigma2_fixed.tolist(),
            "i2": self.i2,
            "i2_levels": self.i2_levels,
            "q": self.q,
            "q_df": self.q_df,
            "q_pval": self.q_pval,
            "qm": om.stat,
            "qm_df": om.df,
            "qm_ddf": om.ddf,
            "qm_test": om.test,
            "qm_pval": om.pval,
            "loglik": fs["loglik"],
            "deviance": fs["deviance"],
            "aic": fs["aic"],
            "bic": fs["bic"],
            "aicc": fs["aicc"],
            "converged": self.converged,
            "warnings": self.warnings,
            "n_dropped": int(len(self.drop_log)),
        }
        if ci:
            c = self.confint()
            out["sigma2_ci"] = [[c.iloc[j]["ci_low"], c.iloc[j]["ci_high"]] for j in range(len(c))]
        if self.intercept_only:
            out["pi"] = self.pi
        return jsonable(out)

    def summary(self, digits: int = 4, *, ci: bool = False) -> str:
        """metafor-style text summary (``ci=True`` adds profile CIs of sigma2)."""
        lines = [f"Multilevel Meta-Analysis Model (k = {self.k}; method: {self.method})", ""]
        fs = self.fit_stats()
        lines.append("   logLik  deviance       AIC       BIC      AICc")
        lines.append(
            " ".join(f"{fs[c]:9.4f}" for c in ("loglik", "deviance", "aic", "bic", "aicc"))
        )
        lines.append("")
        lines.append("Variance Components:")
        lines.append("")
        vc = pd.DataFrame(
            {
                "": [f"sigma^2.{j + 1}" for j in range(len(self.level_names))],
                "estim": [fmt_num(v, digits) for v in self.sigma2],
                "sqrt": [fmt_num(np.sqrt(v), digits) for v in self.sigma2],
                "nlvls": self.n_groups,
                "fixed": ["yes" if f else "no" for f in self.sigma2_fixed],
                "factor": self.level_names,
            }
        )
        if ci:
            c = self.confint()
            vc["ci_low"] = [fmt_num(v, digits) for v in c["ci_low"]]
            vc["ci_high"] = [fmt_num(v, digits) for v in c["ci_high"]]
        lines.append(
            vc.to_string(index=False) if len(vc) else "(none: equal-effects model with the known V)"
        )
        lines.append("")
        if np.isfinite(self.trP):
            per = ", ".join(f"{n}: {v:.2f}%" for n, v in self.i2_levels.items())
            lines.append(f"Multilevel I^2: {self.i2:.2f}% ({per})")
            lines.append("")
        lines += summary_tail(self, digits, t_based=self.test == "t", show_pi=self.intercept_only)
        return "\n".join(lines)


def _btt_index(btt, terms: list[str]) -> list[int]:
    import re

    if isinstance(btt, str):
        idx = [i for i, t in enumerate(terms) if re.search(re.escape(btt), t)]
    else:
        idx = []
        for b in np.atleast_1d(btt):
            if isinstance(b, str):
                if b not in terms:
                    raise ModelError(f"unknown coefficient {b!r}; terms are {terms}")
                idx.append(terms.index(b))
            else:
                idx.append(int(b))
    if not idx or any(i < 0 or i >= len(terms) for i in idx):
        raise ModelError(f"btt {btt!r} selects no valid coefficient of {terms}")
    return sorted(set(idx))
