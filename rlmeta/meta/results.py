"""The result of a univariate meta-analysis or meta-regression (``MetaResult``)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd
from scipy import stats

from .._result import ResultMixin, fmt_num, fmt_p, jsonable
from ..errors import ModelError
from ._core import BatchFit, Control, fit_batch
from ._qprofile import qprofile_ci
from .formula import Design

__all__ = [
    "MetaResult",
    "WaldTest",
    "AnovaResult",
    "wald_from",
    "contrast_matrix",
    "selection_matrix",
]

_MODEL_NAMES = {"EE": "Equal-Effects", "FE": "Fixed-Effects", "CE": "Common-Effects"}


@dataclass
class WaldTest(ResultMixin):
    """Omnibus Wald test of a set of coefficients or linear combinations."""

    hypotheses: pd.DataFrame
    stat: float
    df: int
    ddf: float | None
    pval: float
    test: str  # "chi2" or "F"

    def to_frame(self) -> pd.DataFrame:
        return self.hypotheses.copy()

    def to_dict(self) -> dict:
        return jsonable(
            {
                "stat": self.stat,
                "df": self.df,
                "ddf": self.ddf,
                "pval": self.pval,
                "test": self.test,
                "hypotheses": self.hypotheses,
            }
        )

    def summary(self) -> str:
        if self.test == "F":
            head = f"Omnibus test: F(df1 = {self.df}, df2 = {self.ddf:g}) = {self.stat:.4f}, p-val = {fmt_p(self.pval)}"
        else:
            head = f"Omnibus test: QM(df = {self.df}) = {self.stat:.4f}, p-val = {fmt_p(self.pval)}"
        return (
            head
            + "\n\n"
            + self.hypotheses.to_string(index=False, float_format=lambda v: f"{v:.4f}")
        )


@dataclass
class AnovaResult(ResultMixin):
    """Likelihood-ratio test between two nested models."""

    table: pd.DataFrame
    lrt: float
    df: int
    pval: float
    r2: float | None

    def to_frame(self) -> pd.DataFrame:
        return self.table.copy()

    def to_dict(self) -> dict:
        return jsonable(
            {
                "lrt": self.lrt,
                "df": self.df,
                "pval": self.pval,
                "pseudo_r2": self.r2,
                "models": self.table,
            }
        )

    def summary(self) -> str:
        return self.table.to_string(float_format=lambda v: f"{v:.4f}") + (
            f"\n\nLRT = {self.lrt:.4f} on {self.df} df, p-val = {fmt_p(self.pval)}"
        )


def prediction_frame(pred, vpred, crit, het_var: float, transform=None) -> pd.DataFrame:
    """``pred, se, ci_*, pi_*`` from predictions, their variances, the critical value(s)
    and the heterogeneity variance added for the prediction interval (tau² or sum of sigma²)."""
    vpred = np.where(np.asarray(vpred) < 0, np.nan, vpred)
    se = np.sqrt(vpred)
    out = pd.DataFrame(
        {
            "pred": pred,
            "se": se,
            "ci_low": pred - crit * se,
            "ci_high": pred + crit * se,
            "pi_low": pred - crit * np.sqrt(vpred + het_var),
            "pi_high": pred + crit * np.sqrt(vpred + het_var),
        }
    )
    if transform is not None:
        for c in ("pred", "ci_low", "ci_high", "pi_low", "pi_high"):
            out[c] = transform(out[c].to_numpy())
        out = out.drop(columns="se")
    return out


def contrast_matrix(L, terms: list[str]) -> tuple[np.ndarray, list[str]]:
    """A hypothesis matrix (and row names) from an array, a ``{term: weight}`` dict or a list of dicts."""
    p = len(terms)
    rows = (
        L
        if isinstance(L, list | tuple) and L and isinstance(L[0], dict)
        else [L]
        if isinstance(L, dict)
        else None
    )
    if rows is not None:
        Lm = np.zeros((len(rows), p))
        for i, row in enumerate(rows):
            for term, wgt in row.items():
                if term not in terms:
                    raise ModelError(f"unknown coefficient {term!r}; terms are {terms}")
                Lm[i, terms.index(term)] = wgt
    else:
        Lm = np.atleast_2d(np.asarray(L, float))
    if Lm.shape[1] != p:
        raise ModelError(
            f"L must have {p} columns (one per coefficient {terms}), got {Lm.shape[1]}"
        )
    names = [" + ".join(f"{w:g}*{t}" for w, t in zip(r, terms) if w != 0) or "0" for r in Lm]
    return Lm, names


def selection_matrix(idx: list[int], terms: list[str]) -> tuple[np.ndarray, list[str]]:
    """Hypothesis matrix testing the coefficients ``idx`` jointly."""
    Lm = np.zeros((len(idx), len(terms)))
    Lm[np.arange(len(idx)), idx] = 1.0
    return Lm, [terms[i] for i in idx]


def wald_from(
    beta: np.ndarray,
    vcov: np.ndarray,
    Lm: np.ndarray,
    names: list[str],
    rhs=None,
    *,
    t_df: float | None = None,
) -> WaldTest:
    """Wald test of ``Lm @ beta = rhs``: one row per hypothesis plus the omnibus statistic.

    Chi-square (and z per row) when ``t_df`` is None; otherwise F(m, t_df) (and t per row),
    metafor's ``anova(X=)`` / ``btt`` conventions.
    """
    m = Lm.shape[0]
    r0 = np.zeros(m) if rhs is None else np.broadcast_to(np.asarray(rhs, float), (m,))
    est = Lm @ beta - r0
    cov = Lm @ vcov @ Lm.T
    se = np.sqrt(np.diag(cov))
    with np.errstate(divide="ignore", invalid="ignore"):
        stat_i = est / se
        try:
            qm = float(est @ np.linalg.solve(cov, est))
        except np.linalg.LinAlgError:
            qm = np.nan
    if t_df is not None:
        ok = t_df > 0
        pv = 2 * stats.t.sf(np.abs(stat_i), t_df) if ok else np.full(m, np.nan)
        stat, pval, kind = qm / m, float(stats.f.sf(qm / m, m, t_df)) if ok else np.nan, "F"
    else:
        pv = 2 * stats.norm.sf(np.abs(stat_i))
        stat, pval, kind = qm, float(stats.chi2.sf(qm, m)), "chi2"
    table = pd.DataFrame(
        {"hypothesis": names, "estimate": est, "se": se, "stat": stat_i, "pval": pv}
    )
    return WaldTest(table, float(stat), m, t_df, pval, kind)


class _ModelResult(ResultMixin):
    """What univariate and multilevel results share: the design and the omnibus test.

    Subclasses provide ``design``, ``k``, ``p``, ``btt`` and ``wald_test``.
    """

    @property
    def X(self) -> np.ndarray:
        return self.design.X

    @property
    def terms(self) -> list[str]:
        return list(self.design.names)

    @property
    def intercept_only(self) -> bool:
        return self.terms == ["intercept"]

    @property
    def q_df(self) -> int:
        return self.k - self.p

    @cached_property
    def _omnibus(self) -> WaldTest:
        return self.wald_test(btt=self.btt)

    @property
    def qm(self) -> float:
        return self._omnibus.stat

    @property
    def qm_df(self) -> int:
        return self._omnibus.df

    @property
    def qm_pval(self) -> float:
        return self._omnibus.pval

    def _rows(self, newdata) -> np.ndarray:
        """Design rows of ``newdata`` (a frame, or moderator values without the intercept)."""
        if newdata is None:
            return self.X[:1] if self.intercept_only else self.X
        if isinstance(newdata, pd.DataFrame):
            Xn = self.design.new_rows(newdata)
        else:
            arr = np.atleast_2d(np.asarray(newdata, float))
            Xn = (
                np.column_stack([np.ones(len(arr)), arr])
                if self.design.intercept and arr.shape[1] == self.p - 1
                else arr
            )
        if Xn.shape[1] != self.p:
            raise ModelError(
                f"newdata gives {Xn.shape[1]} design columns, the model has {self.p} ({self.terms})"
            )
        return Xn


@dataclass(eq=False)
class MetaResult(_ModelResult):
    """A fitted fixed- or random-effects meta-analysis / meta-regression.

    Numbers follow metafor's ``rma.uni``; see :func:`rlmeta.meta_analysis`.
    Render it with :meth:`summary` (text), :meth:`to_frame` (coefficients),
    :meth:`to_dict` (JSON-ready) or in Jupyter (HTML).
    """

    data: pd.DataFrame
    yi: np.ndarray
    vi: np.ndarray
    design: Design
    fit: BatchFit
    method: str
    test: str
    level: float
    btt: list[int]
    control: Control
    labels: list[str]
    weights: np.ndarray | None = None
    measure: str | None = None
    drop_log: pd.DataFrame = field(default_factory=pd.DataFrame)
    notes: list[str] = field(default_factory=list)
    tau2_fixed_value: float | None = None

    # ------------------------------------------------------------------ basics
    @property
    def k(self) -> int:
        return int(self.fit.k[0])

    @property
    def p(self) -> int:
        return self.fit.p

    @property
    def random(self) -> bool:
        """True for a random-effects model (tau² estimated or fixed by the user)."""
        return self.method not in _MODEL_NAMES

    @property
    def beta(self) -> pd.Series:
        return pd.Series(self.fit.beta[0], index=self.terms, name="estimate")

    @property
    def vcov(self) -> pd.DataFrame:
        return pd.DataFrame(self.fit.vb[0], index=self.terms, columns=self.terms)

    @property
    def se(self) -> np.ndarray:
        return self.fit.se[0]

    @property
    def tau2(self) -> float:
        return float(self.fit.tau2[0])

    @property
    def tau(self) -> float:
        return float(np.sqrt(max(self.tau2, 0.0)))

    @property
    def se_tau2(self) -> float:
        return float(self.fit.se_tau2[0])

    @property
    def i2(self) -> float:
        """I² in percent, tau²-based as metafor (Q-based for equal-effects models)."""
        return float(self.fit.i2[0])

    @property
    def i2_q(self) -> float:
        """I² in percent from Q: ``max(0, (Q - df) / Q)`` (meta's / statsmodels' default)."""
        q, df = self.q, self.k - self.p
        return float(max(0.0, 100 * (q - df) / q)) if q > 0 else 0.0

    @property
    def h2(self) -> float:
        return float(self.fit.h2[0])

    @property
    def q(self) -> float:
        return float(self.fit.qe[0])

    @property
    def q_pval(self) -> float:
        return float(self.fit.qe_p[0])

    @property
    def ddf(self) -> float:
        return float(self.fit.ddf[0])

    @property
    def converged(self) -> bool:
        return bool(self.fit.converged[0])

    @property
    def warnings(self) -> list[str]:
        return list(self.notes) + list(self.fit.messages[0])

    def _crit(self, level: float | None = None) -> float:
        return float(self.fit.crit(level)[0])

    # ------------------------------------------------------------------ coefficient table
    def to_frame(self) -> pd.DataFrame:
        """Coefficient table: term, estimate, se, stat, df, pval, ci_low, ci_high."""
        b, se = self.fit.beta[0], self.se
        with np.errstate(divide="ignore", invalid="ignore"):
            stat = b / se
        if self.test in ("t", "knha", "adhoc"):
            df = np.full(self.p, self.ddf)
            pval = (
                2 * stats.t.sf(np.abs(stat), self.ddf) if self.ddf > 0 else np.full(self.p, np.nan)
            )
        else:
            df = np.full(self.p, np.nan)
            pval = 2 * stats.norm.sf(np.abs(stat))
        return coef_frame(self.terms, b, se, stat, df, pval, self._crit())

    # ------------------------------------------------------------------ omnibus test
    def _btt_index(self, btt) -> list[int]:
        if btt is None:
            return list(self.btt)
        if isinstance(btt, str):
            import re

            idx = [i for i, t in enumerate(self.terms) if re.search(re.escape(btt), t)]
        else:
            idx = []
            for b in np.atleast_1d(btt):
                if isinstance(b, str):
                    if b not in self.terms:
                        raise ModelError(f"unknown coefficient {b!r}; terms are {self.terms}")
                    idx.append(self.terms.index(b))
                else:
                    idx.append(int(b))
        if not idx or any(i < 0 or i >= self.p for i in idx):
            raise ModelError(f"btt {btt!r} selects no valid coefficient of {self.terms}")
        return sorted(set(idx))

    def wald_test(self, L=None, *, btt=None, rhs=None) -> WaldTest:
        """Wald test of coefficients (``btt``) or of linear combinations ``L @ beta = rhs``.

        Parameters
        ----------
        L
            Matrix ``(m, p)``, a single row, or a dict ``{term: weight}`` (or a list
            of such dicts); each row is one hypothesis.
        btt
            Coefficients to test jointly (indices, names or a name pattern); the
            default is every coefficient except the intercept (metafor's default).
        rhs
            Values under the null (default 0).

        Returns
        -------
        WaldTest
            Per-hypothesis estimates with SE, statistic and p-value, and the omnibus
            chi-square (z tests) or F (t/knha tests) statistic.
        """
        if L is None:
            Lm, names = selection_matrix(self._btt_index(btt), self.terms)
        else:
            Lm, names = contrast_matrix(L, self.terms)
        t_df = self.ddf if self.test in ("t", "knha", "adhoc") else None
        return wald_from(self.fit.beta[0], self.fit.vb[0], Lm, names, rhs, t_df=t_df)

    # ------------------------------------------------------------------ heterogeneity CIs
    @cached_property
    def _qprofile(self) -> dict:
        if not self.random or self.fit.tau2_fixed or self.k <= self.p:
            return {}
        if not self.fit.allvipos[0]:
            return {}
        return qprofile_ci(
            self.yi[None, :],
            self.vi[None, :],
            self.X,
            np.ones((1, self.k)),
            self.fit.tau2,
            self.level,
            tol=self.control.tol,
        )

    def confint(self, level: float | None = None, type: str = "QP") -> pd.DataFrame:
        """Confidence intervals for tau², tau, I² (%) and H² (metafor's ``confint``).

        Parameters
        ----------
        level
            Confidence level (default: the model's).
        type
            ``"QP"`` (default): Q-profile (Viechtbauer 2007); ``"PL"``: profile
            likelihood under the model's own likelihood (ML or REML fits only).

        Returns a frame with rows ``tau2, tau, i2, h2`` and columns
        ``estimate, ci_low, ci_high``; bounds truncated at the search interval are
        flagged in ``ci_low_bounded`` / ``ci_high_bounded``.

        Examples
        --------
        >>> import rlmeta as rm
        >>> res = rm.meta_analysis(yi=[0.1, 0.5, -0.2, 0.8, 0.3], vi=[0.02, 0.05, 0.03, 0.04, 0.02])
        >>> pl = res.confint(type="PL")
        >>> bool(pl.loc["tau2", "ci_low"] < res.tau2 < pl.loc["tau2", "ci_high"])
        True
        """
        if type not in ("QP", "PL"):
            raise ModelError(f"confint: type must be 'QP' or 'PL', got {type!r}")
        if type == "PL":
            return self._confint_pl(self.level if level is None else level)
        if level is not None and level != self.level:
            ci = qprofile_ci(
                self.yi[None, :],
                self.vi[None, :],
                self.X,
                np.ones((1, self.k)),
                self.fit.tau2,
                level,
            )
        else:
            ci = self._qprofile
        if not ci:
            return pd.DataFrame(
                {
                    "estimate": [self.tau2, self.tau, self.i2, self.h2],
                    "ci_low": np.nan,
                    "ci_high": np.nan,
                    "ci_low_bounded": False,
                    "ci_high_bounded": False,
                },
                index=["tau2", "tau", "i2", "h2"],
            )
        return self._het_ci_frame(
            float(ci["low"][0]),
            float(ci["high"][0]),
            bool(ci["low_bounded"][0]),
            bool(ci["high_bounded"][0]),
        )

    def _confint_pl(self, level: float) -> pd.DataFrame:
        if self.method not in ("ML", "REML"):
            raise ModelError(
                f"confint(type='PL') needs an ML or REML fit (this one is {self.method}); "
                "refit with method='REML' or use the Q-profile CI (type='QP')"
            )
        if self.fit.tau2_fixed or self.k == 1:
            raise ModelError(
                "confint(type='PL'): tau² is not estimated in this model "
                + ("(k = 1)" if self.k == 1 else "(it was fixed with tau2=)")
            )
        from ._plprofile import profile_likelihood_ci

        ci = profile_likelihood_ci(
            self.yi,
            self.vi,
            self.X,
            self.tau2,
            self.method,
            level,
            weights=self.weights,
            control=self.control,
        )
        return self._het_ci_frame(ci["low"], ci["high"], ci["low_bounded"], ci["high_bounded"])

    def _het_ci_frame(self, lo: float, hi: float, lo_b: bool, hi_b: bool) -> pd.DataFrame:
        """tau², tau, I², H² with their CIs from the bounds of tau² (metafor's conversions)."""
        vt = float(self.fit.vt[0])
        return pd.DataFrame(
            {
                "estimate": [self.tau2, self.tau, self.i2, self.h2],
                "ci_low": [
                    lo,
                    np.sqrt(lo) if lo >= 0 else np.nan,
                    100 * lo / (vt + lo),
                    lo / vt + 1,
                ],
                "ci_high": [
                    hi,
                    np.sqrt(hi) if hi >= 0 else np.nan,
                    100 * hi / (vt + hi),
                    hi / vt + 1,
                ],
                "ci_low_bounded": bool(lo_b),
                "ci_high_bounded": bool(hi_b),
            },
            index=["tau2", "tau", "i2", "h2"],
        )

    @property
    def tau2_ci(self) -> list[float]:
        ci = self.confint()
        return [float(ci.loc["tau2", "ci_low"]), float(ci.loc["tau2", "ci_high"])]

    # ------------------------------------------------------------------ pseudo R²
    @cached_property
    def pseudo_r2(self) -> float | None:
        """Proportional reduction in tau² relative to the intercept-only model (percent)."""
        if self.intercept_only or not self.design.intercept:
            return None
        if not self.random:
            # metafor: adjusted R² of the weighted least-squares regression (weights 1/vi).
            if np.var(self.yi) == 0:
                return 0.0
            w = self.weights if self.weights is not None else 1 / self.vi
            ybar = np.sum(w * self.yi) / np.sum(w)
            rss = float(np.sum(w * (self.yi - self.fitted()) ** 2))
            tss = float(np.sum(w * (self.yi - ybar) ** 2))
            r2 = 1 - rss / tss
            adj = 1 - (1 - r2) * (self.k - 1) / (self.k - self.p)
            return max(0.0, 100 * adj)
        if self.fit.tau2_fixed:
            return None
        base = fit_batch(
            self.yi,
            self.vi,
            np.ones((self.k, 1)),
            method=self.method,
            test=self.test,
            weights=self.weights,
            control=self.control,
        )
        t_re = float(base.tau2[0])
        if t_re == 0:
            return 0.0
        return max(0.0, 100 * (t_re - self.tau2) / t_re)

    # ------------------------------------------------------------------ fit statistics
    def fit_stats(self, which: str | None = None) -> dict[str, float]:
        """logLik, deviance, AIC, BIC, AICc under ML or REML (default: REML for REML fits)."""
        which = which or ("REML" if self.method == "REML" else "ML")
        return {k: float(v[0]) for k, v in self.fit.fit_stats(which).items()}

    # ------------------------------------------------------------------ prediction
    def predict(
        self,
        newdata: pd.DataFrame | np.ndarray | None = None,
        *,
        level: float | None = None,
        transform=None,
    ) -> pd.DataFrame:
        """Predicted (average) effects with confidence and prediction intervals.

        Parameters
        ----------
        newdata
            Moderator values as a DataFrame with the formula's columns (coded the same
            way: factor levels, centring), or a design matrix without intercept column
            as metafor's ``newmods``.  None gives the fitted values at the data (or the
            pooled effect for an intercept-only model).
        level
            Interval level (default: the model's).
        transform
            Optional function applied to ``pred`` and interval bounds (e.g. ``np.exp``).

        Returns
        -------
        pandas.DataFrame
            ``pred, se, ci_low, ci_high, pi_low, pi_high``; the PI uses the same
            critical value as the CI (t(k-p) under t/knha, z otherwise), as metafor.
        """
        Xn = self._rows(newdata)
        b, vb = self.fit.beta[0], self.fit.vb[0]
        pred = Xn @ b
        vpred = np.einsum("ij,jk,ik->i", Xn, vb, Xn)
        return prediction_frame(
            pred, vpred, self._crit(level), self.tau2 if self.random else 0.0, transform
        )

    @property
    def pi(self) -> list[float] | None:
        """Prediction interval of the pooled effect (intercept-only models)."""
        if not self.intercept_only:
            return None
        pr = self.predict()
        return [float(pr["pi_low"].iloc[0]), float(pr["pi_high"].iloc[0])]

    def fitted(self) -> np.ndarray:
        """Fitted values ``X @ beta``."""
        return self.X @ self.fit.beta[0]

    def blup(self, level: float | None = None) -> pd.DataFrame:
        """Best linear unbiased predictions of the true effects (empirical Bayes).

        ``pred = l*y + (1-l)*x'b`` with ``l = tau²/(tau² + v)`` and
        ``var = l*v + (1-l)² x' Vb x``; interval with the model's critical value.
        """
        li = self.tau2 / (self.tau2 + self.vi)
        xb = self.fitted()
        pred = li * self.yi + (1 - li) * xb
        vpred = li * self.vi + (1 - li) ** 2 * np.einsum(
            "ij,jk,ik->i", self.X, self.fit.vb[0], self.X
        )
        se = np.sqrt(vpred)
        crit = self._crit(level)
        return pd.DataFrame(
            {
                "label": self.labels,
                "pred": pred,
                "se": se,
                "pi_low": pred - crit * se,
                "pi_high": pred + crit * se,
            }
        )

    def hat(self) -> np.ndarray:
        """Diagonal of the hat matrix ``X (X'WX)^-1 X' W`` (weights of the fit)."""
        w = 1 / (self.vi + (self.tau2 if self.random else 0.0))
        A = np.linalg.inv((self.X * w[:, None]).T @ self.X)
        h = np.einsum("ij,jk,ik->i", self.X, A, self.X) * w
        return np.where(h > 1 - 10 * np.finfo(float).eps, 1.0, h)

    def weights_percent(self) -> np.ndarray:
        """Model weights in percent (``100 w_i / sum w``), as metafor's ``weights()``."""
        w = (
            self.weights
            if self.weights is not None
            else 1 / (self.vi + (self.tau2 if self.random else 0.0))
        )
        return 100 * w / w.sum()

    def residuals(self, type: str = "raw") -> pd.DataFrame:
        """Residuals: ``raw`` (y - Xb), ``standardized`` (metafor's ``rstandard``) or
        ``studentized`` (deleted residuals, metafor's ``rstudent``).

        Returns a frame with ``label, resid, se, z`` (``se``/``z`` NaN for raw).
        """
        e = self.yi - self.fitted()
        if type == "raw":
            return pd.DataFrame({"label": self.labels, "resid": e, "se": np.nan, "z": np.nan})
        if type in ("standardized", "standardised"):
            e = np.where(np.abs(e) < 100 * np.finfo(float).eps, 0.0, e)
            t2 = self.tau2 if self.random else 0.0
            w = 1 / (self.vi + t2)
            A = np.linalg.inv((self.X * w[:, None]).T @ self.X)
            ve = self.vi + t2 - np.einsum("ij,jk,ik->i", self.X, A, self.X)
            se = np.sqrt(np.where(ve < 0, np.nan, ve))
            return pd.DataFrame({"label": self.labels, "resid": e, "se": se, "z": e / se})
        if type in ("studentized", "studentised"):
            return self._deleted_residuals()
        raise ModelError(
            f"unknown residual type {type!r}; use 'raw', 'standardized' or 'studentized'"
        )

    def _deleted_residuals(self) -> pd.DataFrame:
        k = self.k
        masks = ~np.eye(k, dtype=bool)
        loo = self.refit(mask=masks)
        b = loo.beta
        pred = np.einsum("ij,ij->i", self.X, b)
        vpred = np.einsum("ij,ijk,ik->i", self.X, loo.vb, self.X)
        t2 = loo.tau2 if self.random else np.zeros(k)
        resid = self.yi - pred
        resid = np.where(np.abs(resid) < 100 * np.finfo(float).eps, 0.0, resid)
        # Under Knapp-Hartung the deleted fit's scale factor s2w multiplies both variance
        # components (metafor's influence()).
        se = np.sqrt(self.vi * loo.s2w + vpred + t2 * loo.s2w)
        return pd.DataFrame({"label": self.labels, "resid": resid, "se": se, "z": resid / se})

    # ------------------------------------------------------------------ refits (batched)
    def refit(
        self, *, y=None, v=None, X=None, mask=None, method=None, test=None, tau2="same", level=None
    ) -> BatchFit:
        """Refit the model on a batch of variants (masks, permuted y, other methods).

        Every argument defaults to the fitted model's; ``mask`` of shape ``(B, k)``
        gives B subsets, ``y`` of shape ``(B, k)`` B outcome vectors.  Returns the raw
        :class:`~rlmeta.meta._core.BatchFit` (fast; used by the sensitivity tools).
        """
        t2 = (self.tau2_fixed_value if self.fit.tau2_fixed else None) if tau2 == "same" else tau2
        return refit_variants(
            self, y=y, v=v, X=X, mask=mask, method=method, test=test, tau2=t2, level=level
        )

    # ------------------------------------------------------------------ dependence
    def robust(self, cluster, adjust: str = "CR2", **kwargs):
        """Cluster-robust inference for this model (see :func:`rlmeta.meta.robust.robust`)."""
        from .robust import robust

        return robust(self, cluster=cluster, adjust=adjust, **kwargs)

    # ------------------------------------------------------------------ model comparison
    def anova(self, reduced: MetaResult) -> AnovaResult:
        """Likelihood-ratio test of this (full) model against a nested ``reduced`` one.

        Both must be ML fits, or REML fits with the same fixed effects (as metafor).
        """
        if self.method not in ("ML", "REML") or reduced.method != self.method:
            raise ModelError(
                "anova() needs two ML fits (or two REML fits with identical moderators)"
            )
        if self.k != reduced.k or not np.allclose(self.yi, reduced.yi):
            raise ModelError("anova(): the models were not fitted to the same effects")
        full, red = (self, reduced) if self.fit.parms >= reduced.fit.parms else (reduced, self)
        if self.method == "REML" and full.terms != red.terms:
            raise ModelError(
                "LRTs of REML fits need identical fixed effects; refit both with method='ML'"
            )
        fs_f, fs_r = full.fit_stats(), red.fit_stats()
        lrt = max(0.0, 2 * (fs_f["loglik"] - fs_r["loglik"]))
        df = full.fit.parms - red.fit.parms
        pval = float(stats.chi2.sf(lrt, df)) if df > 0 else np.nan
        r2 = None
        if red.tau2 > 0:
            r2 = max(0.0, 100 * (red.tau2 - full.tau2) / red.tau2)
        table = pd.DataFrame(
            {
                "df": [full.fit.parms, red.fit.parms],
                "aic": [fs_f["aic"], fs_r["aic"]],
                "bic": [fs_f["bic"], fs_r["bic"]],
                "aicc": [fs_f["aicc"], fs_r["aicc"]],
                "loglik": [fs_f["loglik"], fs_r["loglik"]],
                "lrt": [lrt, np.nan],
                "pval": [pval, np.nan],
                "qe": [full.q, red.q],
                "tau2": [full.tau2, red.tau2],
            },
            index=["full", "reduced"],
        )
        return AnovaResult(table, lrt, df, pval, r2)

    # ------------------------------------------------------------------ output
    def to_dict(self) -> dict:
        """JSON-ready dict with the keys documented in DESIGN.md (plus a few extras)."""
        coefs = self.to_frame()
        ci = self.confint()
        fs = self.fit_stats()
        om = self._omnibus
        out = {
            "k": self.k,
            "p": self.p,
            "method": self.method,
            "test": self.test,
            "level": self.level,
            "measure": self.measure,
            "coefficients": coefs.to_dict(orient="records"),
            "tau2": self.tau2 if self.random else 0.0,
            "tau2_se": self.se_tau2 if self.random else None,
            "tau2_ci": [ci.loc["tau2", "ci_low"], ci.loc["tau2", "ci_high"]],
            "tau": self.tau,
            "tau_ci": [ci.loc["tau", "ci_low"], ci.loc["tau", "ci_high"]],
            "i2": self.i2,
            "i2_ci": [ci.loc["i2", "ci_low"], ci.loc["i2", "ci_high"]],
            "i2_q": self.i2_q,
            "h2": self.h2,
            "h2_ci": [ci.loc["h2", "ci_low"], ci.loc["h2", "ci_high"]],
            "q": self.q,
            "q_df": self.q_df,
            "q_pval": self.q_pval,
            "qm": om.stat,
            "qm_df": om.df,
            "qm_ddf": om.ddf,
            "qm_test": om.test,
            "qm_pval": om.pval,
            "pseudo_r2": self.pseudo_r2,
            "loglik": fs["loglik"],
            "deviance": fs["deviance"],
            "aic": fs["aic"],
            "bic": fs["bic"],
            "aicc": fs["aicc"],
            "converged": self.converged,
            "warnings": self.warnings,
            "n_dropped": int(len(self.drop_log)),
        }
        if self.intercept_only:
            out["pi"] = self.pi
        return jsonable(out)

    def summary(self, digits: int = 4) -> str:
        """metafor-style text summary."""
        lines = []
        if self.random:
            kind = "Mixed-Effects Model" if not self.intercept_only else "Random-Effects Model"
            est = f"tau^2 estimator: {self.method}" if not self.fit.tau2_fixed else "tau^2 fixed"
        else:
            kind = (
                f"{_MODEL_NAMES[self.method]} Model"
                if self.intercept_only
                else f"{_MODEL_NAMES[self.method]} with Moderators Model"
            )
            est = None
        lines.append(f"{kind} (k = {self.k}" + (f"; {est})" if est else ")"))
        fs = self.fit_stats()
        lines.append("")
        lines.append("  logLik  deviance       AIC       BIC      AICc")
        lines.append(
            "  ".join(f"{fs[c]:8.4f}" for c in ("loglik", "deviance", "aic", "bic", "aicc"))
        )
        lines.append("")
        if self.random:
            ci = self.confint()
            lab = "residual heterogeneity" if not self.intercept_only else "total heterogeneity"
            lines.append(
                f"tau^2 (estimated amount of {lab}): {fmt_num(self.tau2, digits)} (SE = {fmt_num(self.se_tau2, digits)})"
                f"  [{fmt_num(ci.loc['tau2', 'ci_low'], digits)}, {fmt_num(ci.loc['tau2', 'ci_high'], digits)}]"
            )
            lines.append(
                f"tau (square root of estimated tau^2 value):      {fmt_num(self.tau, digits)}"
            )
            lines.append(
                f"I^2 ({'residual' if not self.intercept_only else 'total'} heterogeneity / unaccounted variability): {self.i2:.2f}%  (Q-based: {self.i2_q:.2f}%)"
            )
            lines.append(
                f"H^2 (unaccounted variability / sampling variability): {fmt_num(self.h2, 2)}"
            )
            if self.pseudo_r2 is not None:
                lines.append(
                    f"R^2 (amount of heterogeneity accounted for):     {self.pseudo_r2:.2f}%"
                )
        lines.append("")
        lines += summary_tail(
            self,
            digits,
            t_based=self.test in ("t", "knha", "adhoc"),
            show_pi=self.intercept_only and self.random,
        )
        return "\n".join(lines)

    def warn_if_needed(self) -> None:
        from ..errors import ConvergenceWarning

        if not self.converged:
            warnings.warn(
                "; ".join(self.fit.messages[0]) or "model did not converge",
                ConvergenceWarning,
                stacklevel=3,
            )


def summary_tail(res, digits: int, *, t_based: bool, show_pi: bool) -> list[str]:
    """The lines of a metafor-style summary from the heterogeneity test to the end.

    Shared by the univariate and the multilevel results, whose summaries differ only in
    their header (tau^2 vs variance components). ``res`` needs ``intercept_only``, ``q``,
    ``q_df``, ``q_pval``, ``btt``, ``_omnibus``, ``to_frame()``, ``pi``, ``level``,
    ``warnings`` and ``drop_log``.
    """
    lines = [
        "Test for Heterogeneity:" if res.intercept_only else "Test for Residual Heterogeneity:",
        f"Q{'E' if not res.intercept_only else ''}(df = {res.q_df}) = {res.q:.4f}, "
        f"p-val = {fmt_p(res.q_pval)}",
    ]
    if not res.intercept_only:
        om = res._omnibus
        idx = ",".join(str(i + 1) for i in res.btt)
        lines += ["", f"Test of Moderators (coefficient{'s' if len(res.btt) > 1 else ''} {idx}):"]
        if om.test == "F":
            lines.append(
                f"F(df1 = {om.df}, df2 = {om.ddf:g}) = {om.stat:.4f}, p-val = {fmt_p(om.pval)}"
            )
        else:
            lines.append(f"QM(df = {om.df}) = {om.stat:.4f}, p-val = {fmt_p(om.pval)}")
    lines += ["", "Model Results:", ""]
    tab = res.to_frame()
    statname = "tval" if t_based else "zval"

    def num(col):
        return tab[col].map(lambda v: fmt_num(v, digits))

    show = pd.DataFrame(
        {
            "": tab["term"],
            "estimate": num("estimate"),
            "se": num("se"),
            statname: num("stat"),
            **({"df": tab["df"].map(lambda v: f"{v:g}")} if t_based else {}),
            "pval": tab["pval"].map(fmt_p),
            "ci_low": num("ci_low"),
            "ci_high": num("ci_high"),
        }
    )
    lines.append(show.to_string(index=False))
    if show_pi:
        pi = res.pi
        lines += [
            "",
            f"Prediction interval ({res.level:.0%}): "
            f"[{fmt_num(pi[0], digits)}, {fmt_num(pi[1], digits)}]",
        ]
    lines += [f"Warning: {w}" for w in res.warnings]
    if len(res.drop_log):
        lines.append(f"Note: {len(res.drop_log)} row(s) excluded; see drop_log")
    return lines


def coef_frame(terms, b, se, stat, df, pval, crit) -> pd.DataFrame:
    """The coefficient table shared by every model: Wald CI from ``crit`` (scalar or per term)."""
    return pd.DataFrame(
        {
            "term": terms,
            "estimate": b,
            "se": se,
            "stat": stat,
            "df": df,
            "pval": pval,
            "ci_low": b - crit * se,
            "ci_high": b + crit * se,
        }
    )


def refit_variants(
    model, *, y=None, v=None, X=None, mask=None, method=None, test=None, tau2=None, level=None
) -> BatchFit:
    """Fit a batch of variants of ``model`` in one call (the engine of every refit).

    ``model`` supplies ``yi, vi, X, weights, control, method, test, level`` (a
    :class:`MetaResult` or the sensitivity tools' model spec); each argument given here
    replaces its counterpart, ``y``/``v``/``mask`` of shape ``(B, k)`` give B variants,
    ``tau2`` is the fixed tau² (None: estimated).
    """
    k = len(model.yi)
    B = 1
    for arr in (y, mask, v):
        if arr is not None and np.ndim(arr) == 2:
            B = np.shape(arr)[0]
    return fit_batch(
        np.broadcast_to(model.yi if y is None else np.asarray(y, float), (B, k)),
        np.broadcast_to(model.vi if v is None else np.asarray(v, float), (B, k)),
        model.X if X is None else X,
        mask=mask,
        method=method or model.method,
        test=test or model.test,
        level=level or model.level,
        tau2=tau2,
        weights=model.weights,
        control=model.control,
    )
