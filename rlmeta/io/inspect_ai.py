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

from ._common import (
    DEFAULT_LIMITS,
    Limits,
    add_provenance,
    as_dict,
    as_list,
    as_path,
    as_text,
    fail,
    load_json,
    sha256_file,
    short_repr,
    to_float,
)
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
    if isinstance(value, str):
        v = value.strip()
        if v in _VALUE_MAP:
            return _VALUE_MAP[v]
        low = v.lower()
        if low in _TRUE:
            return 1.0
        if low in _FALSE:
            return 0.0
    # numbers and numeric strings; NaN and infinities are not scores (None: logged by the caller)
    return to_float(value)


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

    def reductions(self) -> list:
        if self.zip is not None:
            if "reductions.json" not in self.zip:
                return []
            return as_list(self._member("reductions.json"), self.path, "reductions.json")
        red = self.header.get("reductions")
        if red is None and isinstance(self.header.get("results"), dict):
            red = self.header["results"].get("sample_reductions")  # older JSON logs
        return as_list(red, self.path, "reductions")

    def epoch_samples(self, need_metadata: bool) -> Iterable[tuple[str, dict]]:
        """(location, sample-or-summary) pairs with per-epoch scores."""
        if self.zip is None:
            for i, s in enumerate(as_list(self.header.get("samples"), self.path, "samples")):
                yield f"samples[{i}]", s
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
                for i, s in enumerate(as_list(self._member(name), self.path, name)):
                    yield f"{name}[{i}]", s
            return
        for name in names:
            if _SAMPLE_MEMBER.match(name):
                have_meta = True
                yield name, self._member(name)
        if not have_meta and summary_names:
            for name in summary_names:
                for i, s in enumerate(as_list(self._member(name), self.path, name)):
                    yield f"{name}[{i}]", s


def _meta(log: _Log) -> dict:
    # every field is type-checked: a mistyped one is a ReaderError naming it, not a crash
    p, ev = log.path, log.header["eval"]
    packages = as_dict(ev.get("packages"), p, "eval.packages")
    gen = as_dict(ev.get("model_generate_config"), p, "eval.model_generate_config")
    plan = as_dict(log.header.get("plan"), p, "plan")
    plan_cfg = as_dict(plan.get("config"), p, "plan.config")
    temperature = gen.get("temperature", plan_cfg.get("temperature"))
    if temperature is not None and to_float(temperature) is None:
        raise fail(p, f"expected a number, got {short_repr(temperature)}", column="temperature")
    return {
        "model": as_text(ev.get("model"), p, "eval.model"),
        "task": as_text(ev.get("task_registry_name") or ev.get("task"), p, "eval.task"),
        "tool_version": as_text(packages.get("inspect_ai"), p, "eval.packages.inspect_ai"),
        "status": as_text(log.header.get("status"), p, "status"),
        "temperature": temperature,
        "epochs": as_dict(ev.get("config"), p, "eval.config").get("epochs"),
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
        rows, drops = [], []
        for si, score in enumerate(as_list(results["scores"], path, "results.scores")):
            where = f"results.scores[{si}]"
            score = as_dict(score, path, where)
            metrics = as_dict(score.get("metrics"), path, f"{where}.metrics")
            se_raw, se_method = None, None
            for name, label in _SE_METRICS.items():
                if name in metrics and se_raw is None:
                    m = as_dict(metrics[name], path, f"{where}.metrics.{name}")
                    se_raw = m.get("value")
                    params = as_dict(
                        m.get("params") or m.get("options"), path, f"{where}.metrics.{name}.params"
                    )
                    se_method = label + (
                        f", clustered by {params['cluster']}" if params.get("cluster") else ""
                    )
            se = to_float(se_raw)
            se_flag = None
            if se_raw is not None and se is None:
                se_flag = f"stderr {short_repr(se_raw)} in file; not used"
            elif se == 0:
                se, se_flag = None, "stderr 0.0 in file; not used"
            elif se is not None and se < 0:
                se, se_flag = None, f"negative stderr {se:g} in file; not used"
            std = to_float(as_dict(metrics.get("std"), path, f"{where}.metrics.std").get("value"))
            scorer = as_text(score.get("name") or score.get("scorer"), path, f"{where}.name")
            n_raw = score.get("scored_samples", results.get("completed_samples"))
            n = to_float(n_raw)
            if n_raw is not None and (n is None or n < 0 or not n.is_integer()):
                raise fail(
                    path,
                    f"expected a whole number of scored samples, got {short_repr(n_raw)}",
                    column=f"{where}.scored_samples",
                )
            for name, m in metrics.items():
                if name in _SE_METRICS or name in ("std", "var"):
                    continue
                raw = m.get("value") if isinstance(m, dict) else m
                value = to_float(raw)
                if value is None or isinstance(raw, bool | str):
                    drops.append(
                        {
                            "source": str(path),
                            "benchmark": meta["task"],
                            "metric": f"{scorer}/{name}",
                            "reason": f"{where}.metrics.{name}: value {short_repr(raw)} is not a "
                            "finite number",
                        }
                    )
                    continue
                is_mean = name in _MEAN_METRICS
                rows.append(
                    {
                        "model": meta["model"],
                        "benchmark": meta["task"],
                        "metric": f"{scorer}/{name}",
                        "filter": as_text(score.get("reducer"), path, f"{where}.reducer"),
                        "score": value,
                        "se": se if is_mean else None,
                        "sd": std if is_mean else None,
                        "n": n,
                        "higher_is_better": True if name == "accuracy" else None,
                        "score_scale": "proportion"
                        if name == "accuracy" and 0 <= value <= 1
                        else None,
                        "se_method": se_method if is_mean and se is not None else None,
                        "se_flag": se_flag if is_mean else None,
                        "task": meta["task"],
                        "source_location": f"{where}.metrics.{name}",
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
        frame.attrs["rlmeta_pending_drops"] = drops
        return frame
    finally:
        log.close()


def _sample_id(value: Any, path: Any, where: str) -> str:
    """Inspect sample ids are text or whole numbers; anything else is not an id."""
    text = as_text(value, path, where)
    if text is None:
        raise fail(path, f"{where}: the sample has no id", column=where)
    return text


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
                        "reason": f"{where}: score value {short_repr(v)} is not C/I/P/N, yes/no, "
                        "true/false or a finite number",
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
                epoch = s.get("epoch", 1)
                if isinstance(epoch, bool) or not isinstance(epoch, int):
                    raise fail(
                        path,
                        f"{where}: expected a whole epoch number, got {short_repr(epoch)}",
                        column="epoch",
                    )
                base = {
                    "model": meta["model"],
                    "benchmark": meta["task"],
                    "item_id": _sample_id(s["id"], path, f"{where}.id"),
                    "sample_idx": epoch,
                    "source_location": where,
                    "reducer": None,
                }
                if cluster is not None:
                    md = as_dict(s.get("metadata"), path, f"{where}.metadata")
                    if cluster not in md:
                        raise fail(
                            path,
                            f"{where}: sample metadata has no key {cluster!r} to use as cluster",
                            column=f"metadata.{cluster}",
                        )
                    if isinstance(md[cluster], dict | list):
                        raise fail(
                            path,
                            f"{where}: expected a cluster label (text or number) in metadata, got "
                            f"{short_repr(md[cluster])}",
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
                _score_rows(
                    as_dict(s.get("scores"), path, f"{where}.scores"), base, rows, drops, where
                )
            used = "epochs" if rows else None
            if reduced is False and not rows:
                raise fail(path, "the log stores no per-epoch sample scores (use reduced=True)")
        if not rows:
            if cluster is not None:
                raise fail(
                    path, "cluster= needs per-sample metadata, but the log only has reductions"
                )
            for ri, red in enumerate(log.reductions()):
                red = as_dict(red, path, f"reductions[{ri}]")
                scorer = as_text(red.get("scorer"), path, f"reductions[{ri}].scorer")
                if scorer is None:
                    raise fail(path, f"reductions[{ri}]: no scorer name", column="scorer")
                samples = as_list(red.get("samples"), path, f"reductions[{ri}].samples")
                for si, s in enumerate(samples):
                    where = f"reductions[{ri}].samples[{si}]"
                    s = as_dict(s, path, where)
                    if s.get("sample_id") is None:
                        raise fail(path, f"{where}: no sample_id", column="sample_id")
                    base = {
                        "model": meta["model"],
                        "benchmark": meta["task"],
                        "item_id": _sample_id(s["sample_id"], path, f"{where}.sample_id"),
                        "sample_idx": None,
                        "source_location": where,
                        "reducer": as_text(red.get("reducer"), path, f"reductions[{ri}].reducer"),
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
