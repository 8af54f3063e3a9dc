"""Shared pieces of the fuzz and reliability suites: campaign size, hostile values, checks.

Campaign size
-------------
Every fuzz test runs ``fuzz_settings(n)`` examples: ``n`` in CI (the whole fuzz suite
stays within a couple of minutes), or ``RLMETA_FUZZ_EXAMPLES`` examples each when that
environment variable is set, for longer campaigns on demand::

    RLMETA_FUZZ_EXAMPLES=5000 python -m pytest tests/test_fuzz_readers.py -n auto

CI runs are derandomised (the same examples every run, so a red CI is reproducible);
a campaign with ``RLMETA_FUZZ_EXAMPLES`` draws fresh random examples and keeps
failures in Hypothesis' example database (``.hypothesis/``) so a rerun replays them.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import warnings
from collections.abc import Iterator
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from rlmeta.errors import RlmetaError

_ENV = "RLMETA_FUZZ_EXAMPLES"
#: Seconds one reader call may take before the fuzz test calls it a hang.
HANG_SECONDS = 20


def campaign() -> int | None:
    """Examples per test asked for by ``RLMETA_FUZZ_EXAMPLES`` (None: CI defaults)."""
    raw = os.environ.get(_ENV, "").strip()
    return int(raw) if raw else None


def fuzz_settings(ci_examples: int) -> settings:
    """Hypothesis settings of one fuzz test (see the module docstring)."""
    n = campaign()
    return settings(
        max_examples=n if n is not None else ci_examples,
        deadline=None,  # hangs are caught by time_limit(), not by per-example timing noise
        derandomize=n is None,
        database=None if n is None else settings.default.database,
        suppress_health_check=[
            HealthCheck.too_slow,
            HealthCheck.function_scoped_fixture,
            HealthCheck.data_too_large,
            HealthCheck.filter_too_much,
        ],
        print_blob=True,
    )


class Hang(AssertionError):
    """A call ran longer than :data:`HANG_SECONDS`."""


@contextlib.contextmanager
def time_limit(seconds: float = HANG_SECONDS) -> Iterator[None]:
    """Fail (instead of blocking the suite) when the body runs longer than ``seconds``."""

    def _alarm(signum, frame):
        raise Hang(f"call did not finish within {seconds} s (a hang?)")

    old = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


def outcome(fn, *args: Any, **kwargs: Any) -> Any:
    """Call a reader: return its result, or the :class:`RlmetaError` it raised.

    Any other exception propagates (Hypothesis then shrinks the input that caused
    it).  A raised RlmetaError must carry a non-empty message and must not be the
    readers' last-resort wrapper of an unexpected exception (``unexpected=True``):
    the fuzz suites hold each reader to a specific, explained error.
    """
    with time_limit(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return fn(*args, **kwargs)
        except RlmetaError as exc:
            assert str(exc).strip(), "an RlmetaError without a message"
            if getattr(exc, "unexpected", False):
                raise AssertionError(
                    f"the last-resort wrapper caught {exc.__cause__!r}: give this input a "
                    f"specific error in the reader ({exc})"
                ) from exc
            return exc


# --------------------------------------------------------------------------- hostile values
# Raw JSON text that json.dumps cannot produce (or would need deep recursion for): the
# serialiser writes a placeholder string and raw_json() swaps the text in afterwards.
_RAW = "\x00RAW:"


def _raw(text: str) -> str:
    return f"{_RAW}{text}\x00"


DEEP_ARRAY = _raw("[" * 5000 + "]" * 5000)
DEEP_OBJECT = _raw('{"a":' * 3000 + "1" + "}" * 3000)
BIG_INT = _raw("9" * 5000)
HUGE_FLOAT = _raw("1e400")
NEG_HUGE_FLOAT = _raw("-1e400")

LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12),
    st.sampled_from(
        [
            "N/A",
            "NaN",
            "",
            '=HYPERLINK("x")',
            "\ufeffbom",
            "../../etc/passwd",
            "1e400",
            "<script>x</script>",
            DEEP_ARRAY,
            DEEP_OBJECT,
            BIG_INT,
            HUGE_FLOAT,
            NEG_HUGE_FLOAT,
        ]
    ),
)
#: Any JSON-ish value, including NaN/Infinity, huge numbers and very deep nesting.
HOSTILE = st.recursive(
    LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)


def raw_json(obj: Any, *, indent: int | None = None) -> bytes:
    """``json.dumps`` with NaN/Infinity literals and the raw placeholders expanded."""
    text = json.dumps(obj, indent=indent, allow_nan=True, ensure_ascii=False)
    text = re.sub(r'"\\u0000RAW:(.*?)\\u0000"', lambda m: json.loads(f'"{m.group(1)}"'), text)
    return text.encode("utf-8", "surrogatepass")


def json_paths(obj: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every path (tuple of keys/indices) into a JSON document, the root included."""
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from json_paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            yield from json_paths(v, (*prefix, i))


def set_path(obj: Any, path: tuple, value: Any, *, delete: bool = False) -> Any:
    """A copy-free edit: replace (or delete) the value at ``path``; returns the new root."""
    if not path:
        return value
    parent = obj
    for key in path[:-1]:
        parent = parent[key]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return obj


@st.composite
def mutated_json(draw, seed: Any, max_edits: int = 3) -> Any:
    """``seed`` (deep-copied) with 1..max_edits values replaced by hostile ones or deleted."""
    doc = json.loads(json.dumps(seed))
    for _ in range(draw(st.integers(1, max_edits))):
        paths = list(json_paths(doc))
        path = draw(st.sampled_from(paths))
        if path and draw(st.booleans()) and draw(st.booleans()):
            doc = set_path(doc, path, None, delete=True)
        else:
            doc = set_path(doc, path, draw(HOSTILE))
    return doc


@st.composite
def mutated_bytes(draw, seed: bytes) -> bytes:
    """``seed`` truncated, with bytes flipped or inserted, re-encoded or with a BOM."""
    data = bytearray(seed)
    kind = draw(st.sampled_from(["truncate", "flip", "insert", "latin1", "bom", "nul", "splice"]))
    # a fraction, not an index: the draws must not depend on the seed's length, which varies
    # for formats that embed a timestamp (xlsx)
    pos = min(int(draw(st.floats(0, 1)) * len(data)), max(len(data) - 1, 0))
    if kind == "truncate":
        return bytes(data[:pos])
    if kind == "flip" and data:
        data[pos] ^= draw(st.integers(1, 255))
    elif kind == "insert":
        data[pos:pos] = draw(st.binary(min_size=1, max_size=16))
    elif kind == "latin1":
        data[pos:pos] = "é€ÿ".encode("latin-1", "replace")
    elif kind == "bom":
        data = bytearray(b"\xef\xbb\xbf") + data
    elif kind == "nul":
        data[pos:pos] = b"\x00" * draw(st.integers(1, 8))
    elif kind == "splice":
        other = draw(
            st.sampled_from(
                [b"NaN", b"Infinity", b"-Infinity", b"1e400", b"9" * 400, b'"', b"{", b"]"]
            )
        )
        data[pos:pos] = other
    return bytes(data)
