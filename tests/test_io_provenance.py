"""Every reader: provenance columns present, numeric columns float, schema-valid items."""

from __future__ import annotations

from pathlib import Path

import pytest

import rlmeta as rm
from rlmeta.io import PROVENANCE_COLUMNS
from rlmeta.schema import validate_items

DATA = Path(__file__).parent / "data" / "evals"

AGGREGATES = [
    "lm_eval/rl",
    "lm_eval/v042",
    "lm_eval/v03",
    "inspect/rl.eval",
    "inspect/base_old.json",
    "helm",
    "lighteval",
    "eee/rl.json",
    "simple_evals",
    "oll_v2",
]
ITEMS = [
    "lm_eval/rl",
    "lm_eval/v042",
    "inspect/rl.eval",
    "inspect/base_old.json",
    "helm",
    "lighteval/details",
    "lighteval/details_flat",
    "eee/rl_samples.jsonl",
    "oll_v2",
]


@pytest.mark.parametrize("rel", AGGREGATES)
def test_aggregate_provenance_and_types(rel):
    obs = rm.read(DATA / rel)
    assert set(PROVENANCE_COLUMNS) <= set(obs.columns)
    assert obs["source"].notna().all() and obs["source_sha256"].astype(str).str.len().eq(64).all()
    for col in ("score", "se", "n"):
        if col in obs.columns:
            assert obs[col].dtype == float, col
    assert obs["model"].notna().all() and obs["benchmark"].notna().all()


@pytest.mark.parametrize("rel", ITEMS)
def test_item_provenance_and_schema(rel):
    items = rm.read_items(DATA / rel)
    assert set(PROVENANCE_COLUMNS) <= set(items.columns)
    assert items["score"].dtype == float
    assert "source_row" in items.columns or "source_location" in items.columns
    validate_items(items)  # the readers' output meets the items contract
