"""Run the docstring examples of the sensitivity and bias modules."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import rlmeta.bias
import rlmeta.sensitivity

MODULES = sorted(
    {
        m.name
        for pkg in (rlmeta.sensitivity, rlmeta.bias)
        for m in pkgutil.iter_modules(pkg.__path__, pkg.__name__ + ".")
    }
    | {"rlmeta.sensitivity", "rlmeta.bias"}
)


@pytest.mark.filterwarnings("ignore")
@pytest.mark.parametrize("name", MODULES)
def test_doctests(name):
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert res.failed == 0
