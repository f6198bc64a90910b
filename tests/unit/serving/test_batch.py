from __future__ import annotations

import pandas as pd
import pytest
from typer.testing import CliRunner

import mloop.models
from mloop.errors import InputSchemaError
from mloop.serving.batch.local import predict_file


def test_predict_file_streams_chunks_and_matches_the_model(packages, kit, tmp_path) -> None:
    frame, _ = kit.training_frame(n=50, seed=3)
    frame.to_parquet(tmp_path / "in.parquet")
    result = predict_file(
        str(packages["credit"]),
        tmp_path / "in.parquet",
        tmp_path / "out.parquet",
        chunk_size=16,
        with_proba=True,
    )
    out = pd.read_parquet(tmp_path / "out.parquet")
    expected = mloop.models.load_model(packages["credit"]).predict(frame)
    assert result.rows == 50 and result.chunks == 4
    assert out["prediction"].tolist() == list(expected)
    assert list(out.columns[:4]) == ["age", "income", "city", "member"]
    assert {"proba_0", "proba_1"} <= set(out.columns)


def test_a_missing_column_fails_and_leaves_no_output(packages, kit, tmp_path) -> None:
    frame, _ = kit.training_frame(n=10)
    frame.drop(columns=["city"]).to_parquet(tmp_path / "in.parquet")
    with pytest.raises(InputSchemaError, match="'city'"):
        predict_file(str(packages["credit"]), tmp_path / "in.parquet", tmp_path / "out.parquet")
    assert not list(tmp_path.glob("*out*"))


def test_mloop_predict_command(packages, kit, project_dir) -> None:
    from mloop.cli.main import app

    frame, _ = kit.training_frame(n=30)
    frame.to_parquet(project_dir / "in.parquet")
    res = CliRunner().invoke(
        app,
        [
            "predict",
            str(packages["credit"]),
            "-i",
            "in.parquet",
            "-o",
            "preds.parquet",
            "--chunk-size",
            "7",
            "--json",
        ],
    )
    assert res.exit_code == 0, res.output
    assert '"rows": 30' in res.output and '"chunks": 5' in res.output
    assert len(pd.read_parquet(project_dir / "preds.parquet")) == 30
    bad = CliRunner().invoke(
        app, ["predict", str(packages["credit"]), "-i", "nope.parquet", "-o", "x.parquet"]
    )
    assert bad.exit_code == 2 and "does not exist" in bad.output
