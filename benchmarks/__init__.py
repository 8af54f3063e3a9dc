"""rlmeta's benchmarks against PyMARE, statsmodels and metafor (run on demand: ``python -m benchmarks``)."""
