"""UK AISI Inspect AI logs: ``.eval`` (ZIP, deflate or zstd) and ``.json``.

Aggregates come from ``results.scores[].metrics`` (``accuracy``/``mean`` rows get
the ``stderr`` or ``bootstrap_stderr`` metric of the same scorer as their SE).
Items come from the per-epoch sample scores (``summaries.json``, the journal
summaries, or ``samples/*.json``; one row per sample x epoch x scorer) or, when
``reduced=True`` or no per-epoch scores are stored, from the epoch-reduced
``reductions`` (``results.sample_reductions`` in older logs).

Score values are mapped as Inspect's ``value_to_float``: ``C`` -> 1, ``I`` -> 0,
``P`` -> 0.5, ``N`` -> 0, yes/true -> 1, no/false -> 0, numeric strings -> float.
Dict values (multi-key scorers) give one metric per key (``scorer.key``).  Values
that cannot be mapped are recorded in the drop log.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pandas as pd

from ._common import DEFAULT_LIMITS, Limits, add_provenance, as_path, fail, load_json, sha256_file
from ._zip import SafeZip

__all__ = ["read_log", "read_log_items", "looks_like_log", "value_to_float"]

_VALUE_MAP = {"C": 1.0, "I": 0.0, "P": 0.5, "N": 0.0}
_TRUE = {"yes", "true"}
_FALSE = {"no", "false"}
_SE_METRICS = {
    "stderr": "reported (inspect stderr)",
    "bootstrap_stderr": "reported (inspect bootstrap)",
}
_MEAN_METRICS = {"accuracy", "mean"}
_SAMPLE_MEMBER = re.compile(r"^samples/(?P<id>.+)_epoch_(?P<epoch>\d+)\.json$")


def looks_like_log(obj: Any) -> bool:
    """An EvalLog document: ``version`` and an ``eval`` spec."""
    return (
        isinstance(obj, dict)
        and "eval" in obj
        and isinstance(obj.get("eval"), dict)
        and "version" in obj
    )


def value_to_float(value: Any) -> float | None:
    """Inspect's default mapping of a score value to a number (None when unmappable).

    >>> [value_to_float(v) for v in ["C", "I", "P", "N", "yes", "0.25", 2, True, "maybe"]]
    [1.0, 0.0, 0.5, 0.0, 1.0, 0.25, 2.0, 1.0, None]
    """
    if isinstance(value, bool):
        return float(value)
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        v = value.strip()
        if v in _VALUE_MAP:
            return _VALUE_MAP[v]
        low = v.lower()
        if low in _TRUE:
            return 1.0
        if low in _FALSE:
            return 0.0
        try:
            return float(v)
        except ValueError:
            return None
    return None


class _Log:
    """Uniform access to the parts of a log, whether ZIP or JSON."""

    def __init__(self, path: Any, limits: Limits) -> None:
        self.path = as_path(path)
        self.zip: SafeZip | None = None
        if self.path.suffix == ".eval":
            self.zip = SafeZip(self.path, limits)
            if "header.json" in self.zip:
                self.header = self._member("header.json")
            elif "_journal/start.json" in self.zip:
                self.header = self._member("_journal/start.json")  # a log still running
            else:
                raise fail(
                    self.path,
                    "ZIP archive without header.json or _journal/start.json: not an Inspect log",
                )
        else:
            self.header = load_json(self.path, limits=limits)
        if not looks_like_log(self.header):
            raise fail(self.path, "not an Inspect log: expected 'version' and an 'eval' object")

    def _member(self, name: str) -> Any:
        assert self.zip is not None
        return load_json(f"{self.path}!{name}", self.zip.read(name))

    def close(self) -> None:
        if self.zip is not None:
            self.zip.close()

    def reductions(self) -> list | None:
        if self.zip is not None:
            return self._member("reductions.json") if "reductions.json" in self.zip else None
        red = self.header.get("reductions")
        if red is None and isinstance(self.header.get("results"), dict):
            red = self.header["results"].get("sample_reductions")  # older JSON logs
        return red

    def epoch_samples(self, need_metadata: bool) -> Iterable[tuple[str, dict]]:
        """(location, sample-or-summary) pairs with per-epoch scores."""
        if self.zip is None:
            for i, s in enumerate(self.header.get("samples") or [], start=1):
                yield f"samples[{i - 1}]", s
            return
        names = self.zip.names()
        summary_names = (
            ["summaries.json"]
            if "summaries.json" in names
            else sorted(
                (n for n in names if n.startswith("_journal/summaries/")),
                key=lambda n: int(re.sub(r"\D", "", n) or 0),
            )
        )
        have_meta = False
        if summary_names and not need_metadata:
            for name in summary_names:
                items = self._member(name)
                for i, s in enumerate(items):
                    yield f"{name}[{i}]", s
            return
        for name in names:
            if _SAMPLE_MEMBER.match(name):
                have_meta = True
                yield name, self._member(name)
        if not have_meta and summary_names:
            for name in summary_names:
                for i, s in enumerate(self._member(name)):
                    yield f"{name}[{i}]", s


def _meta(log: _Log) -> dict:
    ev = log.header["eval"]
    packages = ev.get("packages") or {}
    return {
        "model": ev.get("model"),
        "task": ev.get("task_registry_name") or ev.get("task"),
        "tool_version": packages.get("inspect_ai"),
        "status": log.header.get("status"),
        "temperature": (ev.get("model_generate_config") or {}).get(
            "temperature", (log.header.get("plan") or {}).get("config", {}).get("temperature")
        ),
        "epochs": (ev.get("config") or {}).get("epochs"),
    }


def read_log(path: Any, *, limits: Limits = DEFAULT_LIMITS) -> pd.DataFrame:
    """Aggregate scores of one log: one row per scorer x metric."""
    log = _Log(path, limits)
    try:
        meta = _meta(log)
        results = log.header.get("results")
        if not isinstance(results, dict) or not results.get("scores"):
            raise fail(
                path,
                f"log has no results.scores (status {meta['status']!r}); nothing to aggregate",
                column="results.scores",
            )
        rows = []
        for si, score in enumerate(results["scores"]):
            metrics = score.get("metrics") or {}
            se, se_method = None, None
            for name, label in _SE_METRICS.items():
                if name in metrics and se is None:
                    se = metrics[name].get("value")
                    params = metrics[name].get("params") or metrics[name].get("options") or {}
                    se_method = label + (
                        f", clustered by {params['cluster']}" if params.get("cluster") else ""
                    )
            scorer = score.get("name") or score.get("scorer")
            n = score.get("scored_samples", results.get("completed_samples"))
            for name, m in metrics.items():
                if name in _SE_METRICS or name in ("std", "var"):
                    continue
                value = m.get("value") if isinstance(m, dict) else None
                if not isinstance(value, int | float) or isinstance(value, bool):
                    continue
                is_mean = name in _MEAN_METRICS
                rows.append(
                    {
                        "model": meta["model"],
                        "benchmark": meta["task"],
                        "metric": f"{scorer}/{name}",
                        "filter": score.get("reducer"),
                        "score": float(value),
                        "se": float(se) if is_mean and se is not None and se > 0 else None,
                        "sd": float(metrics["std"]["value"])
                        if is_mean and "std" in metrics
                        else None,
                        "n": float(n) if n is not None else None,
                        "higher_is_better": True if name == "accuracy" else None,
                        "score_scale": "proportion"
                        if name == "accuracy" and 0 <= value <= 1
                        else None,
                        "se_method": se_method if is_mean and se is not None and se > 0 else None,
                        "se_flag": "stderr 0.0 in file; not used" if is_mean and se == 0 else None,
                        "task": meta["task"],
                        "source_location": f"results.scores[{si}].metrics.{name}",
                    }
                )
        if not rows:
            raise fail(path, "log results hold no numeric metrics", column="results.scores")
        frame = pd.DataFrame(rows)
        add_provenance(
            frame,
            source=str(path),
            source_sha256=sha256_file(path),
            tool="inspect_ai",
            tool_version=meta["tool_version"],
            n_shot=None,
            temperature=meta["temperature"],
            status=meta["status"],
        )
        return frame
    finally:
        log.close()


def _score_rows(scores: dict, base: dict, out: list, drops: list, where: str) -> None:
    for scorer, sc in (scores or {}).items():
        value = sc.get("value") if isinstance(sc, dict) else sc
        pairs = value.items() if isinstance(value, dict) else [(None, value)]
        for key, v in pairs:
            metric = scorer if key is None else f"{scorer}.{key}"
            f = value_to_float(v)
            if f is None:
                drops.append(
                    {
                        "benchmark": base["benchmark"],
                        "metric": metric,
                        "reason": f"{where}: score value {v!r} is not C/I/P/N, yes/no, true/false or a number",
                    }
                )
                continue
            out.append({**base, "metric": metric, "score": f, "score_raw": str(v)})


def read_log_items(
    path: Any,
    *,
    reduced: bool | None = None,
    cluster: str | None = None,
    limits: Limits = DEFAULT_LIMITS,
) -> pd.DataFrame:
    """Per-item scores of one log.

    Parameters
    ----------
    reduced
        None: per-epoch scores when stored, else the reductions; True: the
        epoch-reduced scores; False: per-epoch scores (error when absent).
    cluster
        Key of ``sample.metadata`` to use as the cluster.
    """
    log = _Log(path, limits)
    try:
        meta = _meta(log)
        rows: list[dict] = []
        drops: list[dict] = []
        used = None
        if reduced is not True:
            for where, s in log.epoch_samples(need_metadata=cluster is not None):
                if not isinstance(s, dict) or "id" not in s:
                    raise fail(path, f"{where}: expected a sample object with an 'id'", column="id")
                base = {
                    "model": meta["model"],
                    "benchmark": meta["task"],
                    "item_id": str(s["id"]),
                    "sample_idx": int(s.get("epoch", 1)),
                    "source_location": where,
                    "reducer": None,
                }
                if cluster is not None:
                    md = s.get("metadata") or {}
                    if cluster not in md:
                        raise fail(
                            path,
                            f"{where}: sample metadata has no key {cluster!r} to use as cluster",
                            column=f"metadata.{cluster}",
                        )
                    base["cluster"] = str(md[cluster])
                if s.get("error"):
                    drops.append(
                        {
                            "benchmark": meta["task"],
                            "reason": f"{where}: sample ended in an error; no score",
                        }
                    )
                    continue
                _score_rows(s.get("scores"), base, rows, drops, where)
            used = "epochs" if rows else None
            if reduced is False and not rows:
                raise fail(path, "the log stores no per-epoch sample scores (use reduced=True)")
        if not rows:
            if cluster is not None:
                raise fail(
                    path, "cluster= needs per-sample metadata, but the log only has reductions"
                )
            for ri, red in enumerate(log.reductions() or []):
                scorer = red.get("scorer")
                for si, s in enumerate(red.get("samples") or []):
                    where = f"reductions[{ri}].samples[{si}]"
                    base = {
                        "model": meta["model"],
                        "benchmark": meta["task"],
                        "item_id": str(s.get("sample_id")),
                        "sample_idx": None,
                        "source_location": where,
                        "reducer": red.get("reducer"),
                    }
                    _score_rows({scorer: s}, base, rows, drops, where)
            used = "reductions"
        if not rows:
            raise fail(
                path, "the log holds no per-sample scores (no samples, summaries or reductions)"
            )
        frame = pd.DataFrame(rows)
        frame["sample_idx"] = frame["sample_idx"].astype("Int64")
        add_provenance(
            frame,
            source=str(path),
            source_sha256=sha256_file(path),
            tool="inspect_ai",
            tool_version=meta["tool_version"],
            task=meta["task"],
            filter=None,
            n_shot=None,
            item_level=used,
            temperature=meta["temperature"],
            status=meta["status"],
        )
        for d in drops:
            d["source"] = str(path)
        frame.attrs["rlmeta_pending_drops"] = drops
        return frame
    finally:
        log.close()
