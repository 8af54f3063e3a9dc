"""Tolerances of DESIGN.md: closed-form 1e-8 relative, iterative 1e-5 relative."""

import numpy as np

CLOSED = 1e-8
ITERATIVE = 1e-5


def close(actual, expected, rtol, atol=1e-12, what=""):
    a = np.asarray(actual, dtype=float)
    e = np.asarray(np.where(np.equal(expected, None), np.nan, expected), dtype=float)
    np.testing.assert_allclose(a, e, rtol=rtol, atol=atol, equal_nan=True, err_msg=what)
