"""rlmeta.io.sweeps.read_sweep: MLflow, W&B and wide exports; explicit typing; log10 columns; errors."""

from __future__ import annotations

import io
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import rlmeta as rm
from rlmeta.errors import DataWarning, ReaderError
from rlmeta.io.sweeps import detect_sweep_format, read_sweep, sweep_columns


def _mlflow_frame() -> pd.DataFrame:
    """Shaped like ``mlflow.search_runs()``: params are strings, metrics floats, times tz-aware."""
    return pd.DataFrame(
        {
            "run_id": ["r1", "r2", "r3", "r4"],
            "experiment_id": ["7", "7", "7", "7"],
            "status": ["FINISHED", "FINISHED", "FAILED", "FINISHED"],
            "artifact_uri": ["file:///a/1", "file:///a/2", "file:///a/3", "file:///a/4"],
            "start_time": pd.to_datetime(
                [
                    "2024-05-01 10:00:00.123",
                    "2024-05-01 11:00:00",
                    "2024-05-01 12:00:00",
                    "2024-05-01 13:00:00",
                ],
                utc=True,
                format="ISO8601",
            ),
            "end_time": pd.to_datetime(
                ["2024-05-01 10:30:00", "2024-05-01 11:30:00", None, "2024-05-01 13:30:00"],
                utc=True,
                format="ISO8601",
            ),
            "metrics.eval/accuracy": [0.61, 0.64, np.nan, 0.58],
            "metrics.train_loss": [0.9, 0.8, 1.5, 0.95],
            "params.learning_rate": ["1e-06", "1e-05", "0.0001", "1e-05"],
            "params.kl_coef": ["0.01", "0.1", "0.05", "0.2"],
            "params.batch_size": ["64", "64", "128", "128"],
            "params.weight_decay": ["0.0", "0.01", "0.0", "0.1"],
            "params.adam_beta2": ["0.95", "0.999", "0.95", "0.999"],
            "params.use_lora": ["True", "False", "True", "True"],
            "params.optimizer": ["adamw", "adamw", "sgd", "adamw"],
            "params.seed": ["0", "1", "2", "3"],
            "tags.mlflow.runName": ["grpo-a", "grpo-b", "grpo-c", "grpo-d"],
            "tags.mlflow.user": ["ann", "ann", "bob", "ann"],
        }
    )


@pytest.fixture
def mlflow_csv(tmp_path) -> Path:
    path = tmp_path / "runs.csv"
    _mlflow_frame().to_csv(path)  # with the index column, as people usually save it
    return path


def test_mlflow_csv(mlflow_csv):
    with pytest.warns(DataWarning, match="1 run\\(s\\) are not finished \\(status FAILED\\)"):
        runs = read_sweep(mlflow_csv)
    assert runs.attrs["rlmeta_sweep"]["format"] == "mlflow"
    assert runs["learning_rate"].tolist() == [1e-6, 1e-5, 1e-4, 1e-5]
    np.testing.assert_allclose(runs["log10_learning_rate"], [-6, -5, -4, -5])
    np.testing.assert_allclose(runs["log10_kl_coef"], np.log10([0.01, 0.1, 0.05, 0.2]))
    assert runs["batch_size"].dtype == np.int64 and runs["seed"].tolist() == [0, 1, 2, 3]
    assert runs["use_lora"].dtype == bool and runs["use_lora"].tolist() == [True, False, True, True]
    assert runs["optimizer"].tolist() == ["adamw", "adamw", "sgd", "adamw"]
    assert runs["run_name"].tolist()[0] == "grpo-a" and "mlflow_user" in runs.columns
    assert (
        str(runs["start_time"].dtype).startswith("datetime64")
        and runs["end_time"].isna().sum() == 1
    )
    assert np.isnan(runs["eval_accuracy"].iloc[2])
    cols = sweep_columns(runs).set_index("column")
    assert cols.loc["eval_accuracy", ["source_column", "role", "kind"]].tolist() == [
        "metrics.eval/accuracy",
        "metric",
        "number",
    ]
    assert cols.loc["learning_rate", "role_source"] == "prefix"
    assert cols.loc["mlflow_user", "role"] == "tag"
    # rules for log-scaled names: zeros, Adam betas, counts
    assert (
        "log10_weight_decay" not in runs
        and "not all values positive" in cols.loc["weight_decay", "note"]
    )
    assert "log10_adam_beta2" not in runs and "log10_batch_size" not in runs
    assert (
        list(runs.columns[-2:]) == ["source", "source_row"] and runs["source"].iloc[0] == "runs.csv"
    )
    # the table is ready for regress() with the log10 column
    fit = rm.regress(runs.dropna(subset=["eval_accuracy"]), "eval_accuracy ~ log10_learning_rate")
    assert fit.nobs == 3


def test_mlflow_dataframe_and_finished_only():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        runs = read_sweep(_mlflow_frame(), finished_only=True)
    assert runs["run_id"].tolist() == ["r1", "r2", "r4"]
    log = rm.drop_log(runs)
    assert log["reason"].tolist() == ["run status 'FAILED' (finished_only=True)"]
    assert log["source_row"].tolist() == [3]
    assert runs.attrs["rlmeta_sweep"]["format"] == "mlflow"


def test_mlflow_parquet_and_json(tmp_path):
    frame = _mlflow_frame()
    pq = tmp_path / "runs.parquet"
    frame.to_parquet(pq)
    js = tmp_path / "runs.json"
    frame.assign(
        start_time=frame.start_time.astype(str), end_time=frame.end_time.astype(str)
    ).to_json(js, orient="records")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        a, b = read_sweep(pq), read_sweep(js)
    for runs in (a, b):
        assert runs["learning_rate"].tolist() == [1e-6, 1e-5, 1e-4, 1e-5]
        assert runs["use_lora"].dtype == bool and "log10_learning_rate" in runs


WANDB_UI = """"Name","State","Notes","User","Tags","Created","Runtime","Sweep","learning_rate","optimizer","use_amp","seed","beta","gsm8k/acc","eval_loss"
"run-a","finished","-","ann","","2025-01-13T23:28:41.000Z","45","sw1","1e-5","adam","false","42","0.1","0.61","1.1"
"run-b","finished","-","ann","","2025-01-13T23:25:20.000Z","47","sw1","1e-4","adam","true","43","0.3","0.64","0.9"
"run-c","crashed","-","ann","","2025-01-13T23:23:40.000Z","12","sw1","1e-3","sgd","false","44","0.1","",""
"""


def test_wandb_web_export():
    with pytest.warns(DataWarning, match="status crashed"):
        runs = read_sweep(io.StringIO(WANDB_UI))
    assert runs.attrs["rlmeta_sweep"]["format"] == "wandb"
    cols = sweep_columns(runs).set_index("column")
    assert cols.loc["gsm8k_acc", ["role", "role_source"]].tolist() == ["metric", "name heuristic"]
    assert cols.loc["eval_loss", "role"] == "metric" and cols.loc["optimizer", "role"] == "param"
    assert (
        cols.loc["run_name", "source_column"] == "Name"
        and cols.loc["start_time", "kind"] == "datetime"
    )
    assert runs["runtime_s"].tolist() == [45, 47, 12]
    assert runs["use_amp"].tolist() == [False, True, False]
    # beta spans a factor of 3 only: no log10 column, and the note says why
    assert "log10_beta" not in runs and "factor of 10" in cols.loc["beta", "note"]
    assert "log10_learning_rate" in runs
    # the user decides roles and log scales
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DataWarning)
        runs2 = read_sweep(io.StringIO(WANDB_UI), metrics=["seed"], log_scale=["beta"])
    cols2 = sweep_columns(runs2).set_index("column")
    assert cols2.loc["seed", ["role", "role_source"]].tolist() == ["metric", "metrics="]
    np.testing.assert_allclose(runs2["log10_beta"], np.log10([0.1, 0.3, 0.1]))


def test_wandb_web_export_without_state():
    text = (
        '"Name","Created","Runtime","End Time","ID","Notes","Updated","Tags","augment_probability","train/test_f1"\n'
        '"r1","2022-06-10T05:44:17.000Z","498","2022-06-10T05:52:35.000Z","3p0d","t","2022-06-10T05:52:35.000Z","",'
        '"0.2","0.64"\n'
    )
    runs = read_sweep(io.StringIO(text))
    assert runs.attrs["rlmeta_sweep"]["format"] == "wandb"
    assert runs[["run_id", "run_name"]].iloc[0].tolist() == ["3p0d", "r1"]
    assert (
        str(runs["end_time"].dtype).startswith("datetime64")
        and runs["train_test_f1"].iloc[0] == 0.64
    )


WANDB_API = (
    ",summary,config,name\n"
    "0,\"{'_step': 99, 'eval/accuracy': 0.61, '_runtime': 120.5, 'hist': {'_type': 'histogram', 'bins': [1, 2]}}\","
    "\"{'learning_rate': 1e-05, 'kl_coef': 0.05, 'model': {'name': 'qwen', 'size_b': 7}, 'use_lora': True}\",run-a\n"
    '1,"{""_step"": 99, ""eval/accuracy"": 0.66}","{""learning_rate"": 3e-05, ""kl_coef"": {""value"": 0.5, ""desc"": null}, '
    '""model"": {""name"": ""qwen"", ""size_b"": 7}, ""use_lora"": false}",run-b\n'
)


def test_wandb_api_export(tmp_path):
    path = tmp_path / "project.csv"
    path.write_text(WANDB_API)
    runs = read_sweep(path)
    assert runs["run_name"].tolist() == ["run-a", "run-b"]
    assert runs["learning_rate"].tolist() == [1e-5, 3e-5]
    assert runs["kl_coef"].tolist() == [0.05, 0.5]  # {"value": ..., "desc": ...} unwrapped
    assert runs["model_name"].tolist() == ["qwen", "qwen"] and runs["model_size_b"].tolist() == [
        7,
        7,
    ]
    assert runs["use_lora"].tolist() == [True, False]
    assert runs["eval_accuracy"].tolist() == [0.61, 0.66]
    cols = sweep_columns(runs).set_index("column")
    assert cols.loc["step", "role"] == "meta" and cols.loc["eval_accuracy", "role"] == "metric"
    assert cols.loc["learning_rate", "source_column"] == "config.learning_rate"
    assert '"_type": "histogram"' in runs["hist"].iloc[0] and pd.isna(runs["hist"].iloc[1])


def test_wandb_api_malformed_cell(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text('summary,config,name\n"{}","{\'lr\': 1e-5}",a\n"{}","__import__(\'os\')",b\n')
    with pytest.raises(
        ReaderError, match=r"bad.csv, row 2, column 'config': expected a dict of config values"
    ):
        read_sweep(path)


def test_wide_typing_rules_and_overrides():
    text = "lr,sched,seed,acc,ok\n1e-5,cosine,1,0.5,yes\n3e-5,auto,2,0.6,no\nauto,cosine,3,NA,yes\n"
    with pytest.warns(
        DataWarning, match=r"column 'lr': mixes numbers and text \(first text 'auto' in row 3\)"
    ):
        runs = read_sweep(io.StringIO(text))
    cols = sweep_columns(runs).set_index("column")
    assert runs.attrs["rlmeta_sweep"]["format"] == "wide"
    assert cols.loc["lr", "kind"] == "category" and runs["lr"].tolist() == ["1e-5", "3e-5", "auto"]
    assert cols.loc["ok", "kind"] == "category"  # yes/no is not read as boolean
    assert cols.loc["acc", "kind"] == "number" and np.isnan(runs["acc"].iloc[2])
    assert cols.loc["seed", "role"] == "value"
    # forcing a type that does not fit names the row and column
    with pytest.raises(
        ReaderError,
        match=r"row 3, column 'lr': expected a number \(types= or inferred\), got 'auto'",
    ):
        read_sweep(io.StringIO(text), types={"lr": "number"})
    runs2 = read_sweep(
        io.StringIO(text.replace("auto,cosine,3", "1e-4,cosine,3")),
        types={"seed": "category"},
        params=["lr"],
    )
    assert runs2["seed"].tolist() == ["1", "2", "3"]
    assert sweep_columns(runs2).set_index("column").loc["seed", "note"] == "type set by types="
    np.testing.assert_allclose(runs2["log10_lr"], [-5, np.log10(3e-5), -4])


@pytest.mark.parametrize(
    ("text", "kwargs", "match"),
    [
        ("", {}, "the file is empty"),
        ("a,b,a\n1,2,3\n", {}, "column 'a': duplicated column name"),
        (
            "eval/acc,eval_acc\n1,2\n",
            {},
            r"columns \['eval/acc', 'eval_acc'\] all map to the name 'eval_acc'",
        ),
        ("a,b\n1,2\n", {"format": "wandb"}, "not a W&B export"),
        ("a,b\n1,2\n", {"format": "mlflow"}, "not an MLflow search_runs export"),
        ("a,b\n1,2\n", {"format": "csv"}, "format must be one of"),
        ("a,b\n1,2\n", {"types": {"c": "number"}}, r"types= names unknown column\(s\) \['c'\]"),
        ("a,b\n1,2\n", {"types": {"a": "float"}}, "unknown type 'float'"),
        (
            "lr,b\n-1,2\n",
            {"log_scale": ["lr"]},
            "row 1, column 'lr': log_scale: expected positive values",
        ),
        ("lr,b\nx,2\n", {"log_scale": ["lr"]}, "not numeric"),
        ("lr,log10_lr\n1e-5,2\n1e-3,3\n", {}, "would replace an existing column"),
    ],
)
def test_reader_errors(text, kwargs, match):
    with pytest.raises(ReaderError, match=match):
        read_sweep(io.StringIO(text), **kwargs)


def test_missing_file_and_detection(tmp_path):
    with pytest.raises(ReaderError, match="nope.csv: file not found"):
        read_sweep(tmp_path / "nope.csv")
    assert detect_sweep_format(pd.DataFrame(columns=["params.lr"])) == "mlflow"
    assert detect_sweep_format(pd.DataFrame(columns=["Name", "State", "Runtime", "lr"])) == "wandb"
    assert detect_sweep_format(pd.DataFrame(columns=["Name", "lr"])) == "wide"
    assert detect_sweep_format(pd.DataFrame(columns=["config", "summary"])) == "wandb"
    assert detect_sweep_format(pd.DataFrame(columns=["lr", "acc"])) == "wide"
    with pytest.raises(ReaderError, match="not produced by read_sweep"):
        sweep_columns(pd.DataFrame({"a": [1]}))


def test_typed_datetime_column_kept():
    frame = pd.DataFrame(
        {"params.lr": ["1e-5", "1e-4"], "tags.when": pd.to_datetime(["2024-01-01", None])}
    )
    runs = read_sweep(frame)
    assert sweep_columns(runs).set_index("column").loc["when", "kind"] == "datetime"
    assert runs["when"].iloc[0] == pd.Timestamp("2024-01-01", tz="UTC") and pd.isna(
        runs["when"].iloc[1]
    )


def test_epoch_millisecond_times():
    frame = pd.DataFrame({"run_id": ["a"], "start_time": [1714557600000], "params.lr": ["1e-5"]})
    runs = read_sweep(frame)
    assert runs["start_time"].iloc[0] == pd.Timestamp("2024-05-01 10:00:00", tz="UTC")


def test_docstring_examples_run():
    """The NumPy-style examples in rlmeta.io.sweeps stay true (CI does not collect doctests)."""
    import doctest
    import importlib  # rlmeta.interaction etc. are functions on the package: import the modules

    _m0 = importlib.import_module("rlmeta.io.sweeps")
    for mod in (_m0,):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = doctest.testmod(mod, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
        assert res.attempted > 0 and res.failed == 0, mod.__name__
