"""Model packages: save and load time and size per flavor, and ONNX Runtime against native
predict for 1 and 1,000 rows, each beside its limit reference measured in the same run.

Save/load limit reference: the library's own call on the same model, with no manifest, no
signature inference and no SHA-256 (``joblib.dump``/``load``, ``Booster.save_model``/``Booster``,
``torch.export.save``/``load``, ``InferenceSession``). mloop adds the signature (one predict on
the example), the digests and the manifest on save, and the digest check on load.
Predict limit reference: the native model's ``predict_proba`` on a pandas frame (the ratio is
onnxruntime / native; below 1 means ONNX is faster), and mloop's ``LoadedModel.predict_proba``
(signature check + cast) over the native call.

Data: the Lending Club demo loans (9,857 rows, 22 features, 5 of them strings).
Run: ``python bench/bench_models.py [--small] [--repeat 7]``
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import polars as pl
from rich.console import Console
from rich.table import Table

from mloop.models import export_onnx, load_model, save_model

DATA = Path(__file__).resolve().parents[1] / "examples/lending_club/data/lending_club.parquet"
CATEGORICAL = ["term", "sub_grade", "addr_state", "verification_status", "emp_length"]


def median_ms(fn: Callable[[], Any], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1e3


def folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def load_data(small: bool) -> tuple[Any, Any, Any]:
    frame = pl.read_parquet(DATA)
    if small:
        frame = frame.head(2000)
    x = frame.drop("Class").to_pandas()
    y = (frame["Class"] == "bad").cast(pl.Int8).to_numpy()
    numeric = x[[c for c in x.columns if c not in CATEGORICAL]].astype("float64")
    return x, numeric, y


def fitted_models(x: Any, numeric: Any, y: Any) -> dict[str, tuple[Any, Any]]:
    """name -> (fitted model, the frame it takes)."""
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numbers = [c for c in x.columns if c not in CATEGORICAL]
    encode = ColumnTransformer(
        [
            ("c", OneHotEncoder(handle_unknown="ignore", sparse_output=False), CATEGORICAL),
            ("n", StandardScaler(), numbers),
        ]
    )
    models: dict[str, tuple[Any, Any]] = {
        "sklearn (pipeline, LR)": (
            Pipeline([("e", encode), ("m", LogisticRegression(max_iter=2000))]).fit(x, y),
            x,
        )
    }
    try:
        import lightgbm

        models["lightgbm (200 trees)"] = (
            lightgbm.LGBMClassifier(n_estimators=200, verbose=-1).fit(numeric, y),
            numeric,
        )
    except ImportError:
        pass
    try:
        import xgboost

        models["xgboost (200 trees)"] = (
            xgboost.XGBClassifier(n_estimators=200, max_depth=6).fit(numeric, y),
            numeric,
        )
    except ImportError:
        pass
    try:
        import torch

        torch.manual_seed(0)
        net = torch.nn.Sequential(
            torch.nn.Linear(numeric.shape[1], 64),
            torch.nn.ReLU(),
            torch.nn.Linear(64, 1),
            torch.nn.Sigmoid(),
        )
        models["torch (MLP 64)"] = (net, numeric / numeric.abs().max())
    except ImportError:
        pass
    return models


def native_save_load(name: str, model: Any, folder: Path, example: Any) -> tuple[Any, Any]:
    """The limit reference: (save(), load()) with the library's own calls."""
    folder.mkdir(parents=True, exist_ok=True)
    if name.startswith("sklearn"):
        import joblib

        path = folder / "m.joblib"
        return (lambda: joblib.dump(model, path, compress=0)), (lambda: joblib.load(path))
    if name.startswith("lightgbm"):
        import lightgbm

        path = folder / "m.txt"
        return (
            lambda: model.booster_.save_model(str(path)),
            lambda: lightgbm.Booster(model_file=str(path)),
        )
    if name.startswith("xgboost"):
        import xgboost

        path = folder / "m.ubj"

        def load() -> Any:
            booster = xgboost.Booster()
            booster.load_model(str(path))
            return booster

        return (lambda: model.get_booster().save_model(str(path))), load
    if name.startswith("torch"):
        import torch

        path = folder / "m.pt2"
        x = torch.tensor(example.head(8).to_numpy(), dtype=torch.float32)

        def save() -> None:
            dim = torch.export.Dim("batch", min=1)
            program = torch.export.export(model.eval(), (x,), dynamic_shapes=({0: dim},))
            torch.export.save(program, str(path))

        return save, (lambda: torch.export.load(str(path)).module())
    if name.startswith("onnx"):
        import onnxruntime

        path = folder / "m.onnx"

        def save_onnx() -> None:
            path.write_bytes(model.SerializeToString())

        return save_onnx, (
            lambda: onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        )
    raise ValueError(name)


def bench_packages(models: dict[str, tuple[Any, Any]], work: Path, repeat: int) -> Table:
    table = Table(title="save / load per flavor (median ms; ratio = mloop / native call)")
    for col in ("flavor", "save", "ref save", "ratio", "load", "ref load", "ratio", "size"):
        table.add_column(col, justify="right" if col != "flavor" else "left")
    for name, (model, frame) in models.items():
        example = frame.head(5)
        counter = iter(range(10_000))

        def save(
            model: Any = model, example: Any = example, counter: Any = counter, name: str = name
        ) -> None:
            save_model(model, work / f"{name}-{next(counter)}", input_example=example)

        save_ms = median_ms(save, repeat)
        target = work / f"{name}-keep"
        pkg = save_model(model, target, input_example=example)
        load_ms = median_ms(lambda target=target: load_model(target), repeat)
        ref_save, ref_load = native_save_load(name, model, work / f"ref-{name}", frame)
        ref_save_ms = median_ms(ref_save, repeat)
        ref_load_ms = median_ms(ref_load, repeat)
        table.add_row(
            f"{name} [{pkg.flavor}]",
            f"{save_ms:.1f}",
            f"{ref_save_ms:.1f}",
            f"{save_ms / ref_save_ms:.2f}x",
            f"{load_ms:.1f}",
            f"{ref_load_ms:.1f}",
            f"{load_ms / ref_load_ms:.2f}x",
            f"{folder_size(target) / 1024:.0f} KiB",
        )
    return table


def bench_onnx(models: dict[str, tuple[Any, Any]], work: Path, repeat: int) -> Table:
    table = Table(title="predict_proba: native vs mloop vs ONNX Runtime (median ms)")
    for col in ("model", "rows", "native", "mloop", "mloop/native", "onnx", "onnx/native"):
        table.add_column(col, justify="right" if col != "model" else "left")
    for name, (model, frame) in models.items():
        if not name.startswith(("sklearn", "lightgbm")):
            continue
        onnx_pkg = export_onnx(model, work / f"onnx-{name}", input_example=frame.head(1000))
        onnx_model = onnx_pkg.load()
        wrapped = save_model(model, work / f"native-{name}", input_example=frame.head(5)).load()
        for rows in (1, 1000):
            part = frame.head(rows)
            calls = {"native": model, "mloop": wrapped, "onnx": onnx_model}
            took = {
                k: median_ms(lambda m=m, part=part: m.predict_proba(part), repeat * 5)
                for k, m in calls.items()
            }
            native, ours, onnx = took["native"], took["mloop"], took["onnx"]
            table.add_row(
                name,
                str(rows),
                f"{native:.3f}",
                f"{ours:.3f}",
                f"{ours / native:.2f}x",
                f"{onnx:.3f}",
                f"{onnx / native:.2f}x",
            )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--small", action="store_true", help="2,000 rows, 3 repeats")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    repeat = 3 if args.small else args.repeat
    warnings.simplefilter("ignore")
    x, numeric, y = load_data(args.small)
    models = fitted_models(x, numeric, y)
    work = Path(tempfile.mkdtemp(prefix="mloop-bench-models-"))
    try:
        from mloop.models.onnx_export import to_onnx_proto

        models["onnx (from the sklearn pipeline)"] = (
            to_onnx_proto(models["sklearn (pipeline, LR)"][0], x.head(100)),
            x,
        )
        console = Console(width=140)
        console.print(bench_packages(models, work, repeat))
        console.print(bench_onnx(models, work, repeat))
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
