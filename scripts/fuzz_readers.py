"""Coverage-guided fuzzing of rlmeta's readers with atheris (optional, on demand).

The CI fuzz suite (``tests/test_fuzz_readers.py``) runs Hypothesis for a couple of
minutes.  For longer, coverage-guided campaigns install atheris (``pip install atheris``;
it needs a clang toolchain with libFuzzer) and run::

    python scripts/fuzz_readers.py corpus/ -max_total_time=3600

Each input's first byte picks the file type (suffix), the rest are the file's bytes;
the harness calls ``rm.read``, ``rm.read_items`` and ``detect_format`` (plus
``read_sweep`` for tables).  Any exception that is not an ``RlmetaError`` (or one that
is only the readers' last-resort wrapper, ``unexpected=True``) is a finding: libFuzzer
stops and writes the input to ``crash-*``.  Replay inputs without atheris with::

    python scripts/fuzz_readers.py --replay crash-1234 corpus/

Seed the corpus with the committed example files, e.g. ``tests/data/evals``.
"""

from __future__ import annotations

import sys
import tempfile
import warnings
from pathlib import Path

SUFFIXES = (".json", ".jsonl", ".eval", ".csv", ".tsv", ".parquet", ".xlsx")


def one_input(data: bytes) -> None:
    """Read ``data`` as a file; raise on anything but a specific rlmeta error."""
    import rlmeta as rm
    from rlmeta.errors import RlmetaError
    from rlmeta.io import detect_format, read_sweep

    if not data:
        return
    suffix = SUFFIXES[data[0] % len(SUFFIXES)]
    with tempfile.TemporaryDirectory(prefix="rlmeta-fuzz-") as tmp:
        path = Path(tmp) / f"input{suffix}"
        path.write_bytes(data[1:])
        calls = [detect_format, rm.read, rm.read_items]
        if suffix in (".csv", ".tsv", ".json", ".jsonl", ".parquet"):
            calls.append(read_sweep)
        for fn in calls:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    fn(path)
                except RlmetaError as exc:
                    if getattr(exc, "unexpected", False):
                        raise AssertionError(
                            f"{fn.__name__}: unexpected {exc.__cause__!r}"
                        ) from exc


def replay(paths: list[str]) -> int:
    """Run :func:`one_input` on files (or every file in folders); return the number of failures."""
    failures = 0
    files = [
        f
        for p in map(Path, paths)
        for f in (sorted(p.rglob("*")) if p.is_dir() else [p])
        if f.is_file()
    ]
    for f in files:
        try:
            one_input(f.read_bytes())
        except Exception as exc:  # a finding: report it and go on
            failures += 1
            print(f"FAIL {f}: {type(exc).__name__}: {exc}", file=sys.stderr)
    print(f"{len(files)} inputs, {failures} failures")
    return failures


def main(argv: list[str]) -> int:
    if argv[1:2] == ["--replay"]:
        return 1 if replay(argv[2:]) else 0
    try:
        import atheris
    except ImportError:
        print(
            "atheris is not installed: pip install atheris (needs clang with libFuzzer)",
            file=sys.stderr,
        )
        return 2
    with atheris.instrument_imports():
        import rlmeta  # noqa: F401 - instrument the package for coverage feedback
    atheris.Setup(argv, one_input)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
