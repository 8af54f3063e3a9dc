"""rlmeta.explore: effect matrices, PCA and clustering against scikit-learn / SciPy / numpy."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
from scipy.cluster.hierarchy import fcluster, linkage
from sklearn.cluster import AgglomerativeClustering, KMeans
from sklearn.decomposition import PCA
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.mixture import GaussianMixture
from sklearn.preprocessing import StandardScaler
from threadpoolctl import threadpool_limits

import rlmeta as rm
from rlmeta.errors import DataError, DataWarning, ModelError
from rlmeta.explore import ClusterResult, PCAResult, bootstrap_ari, cluster, effect_matrix, pca


@pytest.fixture
def blobs() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    centers = np.array([[0, 0, 0], [4, 4, 0], [0, 4, 4]])
    X = np.vstack([rng.normal(c, 0.5, size=(12, 3)) for c in centers])
    return pd.DataFrame(X, columns=["gsm8k", "math", "mmlu"], index=[f"m{i}" for i in range(36)])


@pytest.fixture
def correlated() -> pd.DataFrame:
    rng = np.random.default_rng(1)
    f = rng.normal(size=(40, 2))
    X = f @ np.array([[1.0, 0.8, 0.6, 0.0], [0.0, 0.3, 0.5, 1.0]]) + 0.4 * rng.normal(size=(40, 4))
    return pd.DataFrame(X, columns=list("abcd"))


def test_effect_matrix_pivot_and_duplicates():
    eff = pd.DataFrame(
        {
            "comparison_id": ["c1", "c1", "c2", "c2", "c2"],
            "benchmark": ["gsm8k", "math", "gsm8k", "gsm8k", "mmlu"],
            "yi": [0.1, 0.2, 0.3, 0.5, -0.1],
            "source_row": [1, 2, 3, 4, 5],
        }
    )
    with pytest.raises(
        DataError, match=r"rows 3, 4, column 'yi': 1 cell\(s\) hold several effects.*aggfunc"
    ):
        effect_matrix(eff)
    m = effect_matrix(eff, aggfunc="mean")
    assert m.loc["c2", "gsm8k"] == pytest.approx(0.4) and np.isnan(m.loc["c1", "mmlu"])
    assert list(m.columns) == ["gsm8k", "math", "mmlu"] and list(m.index) == ["c1", "c2"]
    assert m.attrs["rlmeta_matrix"]["aggregated_cells"] == 1
    with pytest.raises(DataError, match="not found"):
        effect_matrix(eff, value="nope")
    with pytest.raises(DataError, match="aggfunc must be"):
        effect_matrix(eff, aggfunc="sum")


def test_effect_matrix_on_bundled_dataset():
    eff = rm.effect_sizes(rm.datasets.load_rl_llm_studies(), measure="RD")
    m = effect_matrix(eff, aggfunc="mean")
    assert m.shape == (eff.comparison_id.nunique(), eff.benchmark.nunique())
    sub = eff[(eff.comparison_id == m.index[0])]
    for bench, grp in sub.groupby("benchmark"):
        assert m.loc[m.index[0], bench] == pytest.approx(grp.yi.mean(), nan_ok=True)


def test_pca_matches_sklearn_and_eigendecomposition(correlated):
    res = pca(correlated)
    assert isinstance(res, PCAResult)
    Z = StandardScaler().fit_transform(correlated)
    ref = PCA().fit(Z)
    np.testing.assert_allclose(
        res.explained_variance_ratio, ref.explained_variance_ratio_, rtol=1e-10
    )
    np.testing.assert_allclose(res.explained_variance, ref.explained_variance_, rtol=1e-10)
    # same axes up to sign
    np.testing.assert_allclose(
        np.abs(res.loadings.to_numpy()), np.abs(ref.components_.T), atol=1e-10
    )
    # independent: eigenvalues of the correlation matrix give the ratios
    ev = np.sort(np.linalg.eigvalsh(np.corrcoef(correlated.to_numpy().T)))[::-1]
    np.testing.assert_allclose(res.explained_variance_ratio, ev / ev.sum(), rtol=1e-10)
    # scores reconstruct the standardised data; sign convention: largest |loading| positive
    np.testing.assert_allclose(res.scores.to_numpy() @ res.loadings.to_numpy().T, Z, atol=1e-10)
    L = res.loadings.to_numpy()
    assert np.all(L[np.argmax(np.abs(L), axis=0), np.arange(L.shape[1])] > 0)
    cov = pca(correlated, standardize=False, n_components=2)
    refc = PCA(n_components=2).fit(correlated)
    np.testing.assert_allclose(cov.explained_variance, refc.explained_variance_, rtol=1e-10)
    assert cov.loadings.shape == (4, 2) and list(cov.scores.columns) == ["PC1", "PC2"]


def test_pca_missing_policies(correlated):
    df = correlated.copy()
    df.iloc[3, 0] = np.nan
    df.iloc[7, 2] = np.nan
    df["sparse"] = np.where(np.arange(40) < 5, 1.0, np.nan)
    with pytest.raises(DataError, match="column 'a'.*missing value at row 3"):
        pca(df, missing="raise", min_coverage=0.5)
    with pytest.warns(DataWarning, match="dropped 2 row"):
        r = pca(df, missing="drop", min_coverage=0.5)
    rep = r.missing_report
    assert (
        rep["dropped_rows"] == ["3", "7"]
        and rep["dropped_columns"] == ["sparse"]
        and r.data.shape == (38, 4)
    )
    with pytest.warns(DataWarning):
        r = pca(df, missing="drop_columns")
    assert r.missing_report["dropped_columns"] == ["a", "c", "sparse"] and r.data.shape == (40, 2)
    with pytest.warns(DataWarning):
        r = pca(df, missing="impute_mean", min_coverage=0.5)
    assert r.missing_report["imputed_cells"] == 2
    assert r.data.iloc[3, 0] == pytest.approx(df["a"].drop(index=3).mean())
    assert bool(r.missing_report["imputed_mask"].iloc[7, 2])
    with pytest.warns(DataWarning):
        r1 = pca(df, missing="impute_iterative", min_coverage=0.5, seed=3)
        r2 = pca(df, missing="impute_iterative", min_coverage=0.5, seed=3)
    np.testing.assert_allclose(r1.data.to_numpy(), r2.data.to_numpy())
    # the same as scikit-learn's IterativeImputer on the kept columns
    from sklearn.experimental import enable_iterative_imputer  # noqa: F401
    from sklearn.impute import IterativeImputer

    ref = IterativeImputer(random_state=3, max_iter=50).fit_transform(df[list("abcd")].to_numpy())
    np.testing.assert_allclose(r1.data.to_numpy(), ref, rtol=1e-12)
    assert r1.data.iloc[3, 0] != pytest.approx(df["a"].mean())  # not the mean imputation
    assert "policy 'impute_iterative'" in r1.summary()
    r1.to_json()


def test_pca_bad_input(correlated):
    with pytest.raises(DataError, match="expected numeric columns"):
        pca(correlated.assign(name="x"))
    with pytest.raises(ModelError, match="missing must be one of"):
        pca(correlated, missing="zero")
    with pytest.raises(ModelError, match="n_components must be between 1 and 4"):
        pca(correlated, n_components=9)
    empty = correlated.iloc[:, :2].copy()
    empty.iloc[::2, 0] = np.nan
    empty.iloc[1::2, 1] = np.nan  # every row misses one value
    with pytest.raises(ModelError, match="only 0 row"):
        pca(empty, missing="drop")


@pytest.mark.parametrize("method", ["kmeans", "ward", "gmm"])
def test_cluster_finds_three_blobs(blobs, method):
    res = cluster(blobs, method, n_boot=30, seed=1)
    assert isinstance(res, ClusterResult) and res.k == 3
    truth = np.repeat([0, 1, 2], 12)
    assert adjusted_rand_score(truth, res.labels) == 1.0
    assert res.labels.tolist()[:1] == [0] and res.stability["mean_ari"] == pytest.approx(1.0)
    # a full-covariance mixture in 3 dimensions has 10k - 1 parameters: only k < 3.7 fits 36 rows
    expected_k = {2, 3} if method == "gmm" else set(range(2, 8))
    assert res.scores["chosen"].sum() == 1 and set(res.scores["k"]) == expected_k
    assert res.centers.shape == (3, 3)


def test_cluster_agrees_with_libraries(blobs):
    Z = StandardScaler().fit_transform(blobs)
    km = cluster(blobs, "kmeans", k=3, n_boot=0, seed=4)
    ref = KMeans(n_clusters=3, n_init=10, random_state=4).fit(Z)
    assert adjusted_rand_score(ref.labels_, km.labels) == 1.0
    assert km.scores["silhouette"].iloc[0] == pytest.approx(
        silhouette_score(Z, ref.labels_), rel=1e-12
    )
    wd = cluster(blobs, "ward", k=3, n_boot=0)
    np.testing.assert_allclose(wd.linkage, linkage(Z, method="ward"))
    sk = AgglomerativeClustering(n_clusters=3, linkage="ward").fit(Z)
    assert adjusted_rand_score(sk.labels_, wd.labels) == 1.0
    gm = cluster(blobs, "gmm", k=2, n_boot=0, seed=2)
    ref_g = GaussianMixture(n_components=2, n_init=3, random_state=2).fit(Z)
    assert gm.scores["bic"].iloc[0] == pytest.approx(ref_g.bic(Z), rel=1e-8)


def test_cluster_silhouette_chooses_best_k(blobs):
    res = cluster(blobs, "kmeans", n_boot=0)
    Z = StandardScaler().fit_transform(blobs)
    for row in res.scores.itertuples():
        lab = KMeans(n_clusters=row.k, n_init=10, random_state=0).fit_predict(Z)
        assert row.silhouette == pytest.approx(silhouette_score(Z, lab), rel=1e-10)
    assert res.k == int(res.scores.loc[res.scores.silhouette.idxmax(), "k"])


def test_bootstrap_ari_reference_implementation(blobs):
    """Re-implement the documented protocol with scikit-learn calls and compare exactly."""
    noisy = blobs + np.random.default_rng(5).normal(0, 1.5, size=blobs.shape)
    res = cluster(noisy, "kmeans", k=3, n_boot=25, seed=7)
    Z = StandardScaler().fit_transform(noisy)
    rng = np.random.default_rng(7)
    expected = []
    with threadpool_limits(limits=1):  # speed only: results do not depend on threads
        for b in range(25):
            idx = rng.integers(0, len(Z), len(Z))
            uniq, first = np.unique(idx, return_index=True)
            lab = KMeans(n_clusters=3, n_init=10, random_state=7 + b + 1).fit_predict(Z[idx])
            expected.append(adjusted_rand_score(res.labels.to_numpy()[uniq], lab[first]))
    np.testing.assert_allclose(res.boot_ari, expected, rtol=1e-12)
    assert res.stability["mean_ari"] == pytest.approx(np.mean(expected))
    assert res.stability["ari_low"] == pytest.approx(np.percentile(expected, 2.5))
    # Ward through SciPy directly
    aris = bootstrap_ari(Z, res.labels.to_numpy(), "ward", 3, n_boot=5, seed=2)
    rng = np.random.default_rng(2)
    for b in range(5):
        idx = rng.integers(0, len(Z), len(Z))
        uniq, first = np.unique(idx, return_index=True)
        lab = fcluster(linkage(Z[idx], "ward"), 3, "maxclust") - 1
        assert aris[b] == pytest.approx(
            adjusted_rand_score(res.labels.to_numpy()[uniq], lab[first])
        )


def test_unstructured_data_is_unstable():
    rng = np.random.default_rng(3)
    noise = pd.DataFrame(rng.normal(size=(40, 3)))
    res = cluster(noise, "kmeans", k=4, n_boot=40, seed=0)
    assert res.stability["mean_ari"] < 0.6
    assert "Bootstrap stability" in res.summary()
    d = res.to_dict()
    assert d["k"] == 4 and len(d["labels"]) == 40
    assert res.to_frame().columns.tolist() == ["row", "cluster"]


def test_cluster_bad_input(blobs):
    with pytest.raises(ModelError, match="method must be"):
        cluster(blobs, "dbscan")
    with pytest.raises(ModelError, match="k must be between 2 and 35"):
        cluster(blobs, k=36)
    with pytest.raises(ModelError, match="no candidate k"):
        cluster(blobs.head(3), k_range=[5, 6])
    with pytest.raises(ModelError, match="covariance_type"):
        cluster(blobs, "gmm", covariance_type="weird")
    with pytest.raises(ModelError, match="as many parameters as rows"):
        cluster(blobs.head(8), "gmm", k_range=[2, 3])


def test_docstring_examples_run():
    """The NumPy-style examples in rlmeta.explore stay true (CI does not collect doctests)."""
    import doctest
    import importlib  # rlmeta.interaction etc. are functions on the package: import the modules

    _m0 = importlib.import_module("rlmeta.explore")
    for mod in (_m0,):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        assert res.attempted > 0 and res.failed == 0, mod.__name__
