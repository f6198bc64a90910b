"""ONNX models run with onnxruntime alone: the embedded way to serve a model.

A graph either takes one float tensor ``input`` of shape ``(rows, columns)`` (numeric models) or
one input per signature column of shape ``(rows, 1)`` (pipelines that select columns by name,
string columns). Outputs follow the converters' convention: the first is the prediction, and an
output named ``probabilities`` (2-D) is ``predict_proba``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mloop.errors import ValidationError
from mloop.models.flavors.base import Flavor, module_of

FILE = "model.onnx"
_NUMPY_OF = {
    "tensor(float)": "float32",
    "tensor(double)": "float64",
    "tensor(int64)": "int64",
    "tensor(int32)": "int32",
    "tensor(bool)": "bool",
    "tensor(string)": "object",
}


class OnnxFlavor(Flavor):
    name = "onnx"
    module = "onnxruntime"
    distributions = ("onnx", "onnxruntime")
    extra = "onnx"

    def matches(self, model: Any) -> bool:
        return module_of(model) == "onnx" and type(model).__name__ == "ModelProto"

    def save(self, model: Any, folder: Path, example: Any | None) -> dict[str, Any]:
        (folder / FILE).write_bytes(model.SerializeToString())
        return {}

    def load(self, folder: Path, options: dict[str, Any]) -> Any:
        import onnxruntime

        opts = onnxruntime.SessionOptions()
        opts.log_severity_level = 3  # errors only: converter graphs trigger harmless warnings
        return onnxruntime.InferenceSession(
            str(folder / FILE), sess_options=opts, providers=["CPUExecutionProvider"]
        )

    def _run(self, session: Any, frame: Any) -> dict[str, Any]:
        return dict(
            zip(
                [o.name for o in session.get_outputs()],
                session.run(None, feeds(session, frame)),
                strict=True,
            )
        )

    def predict(self, native: Any, frame: Any, options: dict[str, Any]) -> Any:
        import numpy as np

        first = native.get_outputs()[0].name
        out = np.asarray(self._run(native, frame)[first])
        return out[:, 0] if out.ndim == 2 and out.shape[1] == 1 else out

    def predict_proba(self, native: Any, frame: Any, options: dict[str, Any]) -> Any | None:
        import numpy as np

        if not self.has_proba(native, options):
            return None
        return np.asarray(self._run(native, frame)["probabilities"])

    def has_proba(self, native: Any, options: dict[str, Any]) -> bool:
        return any(o.name == "probabilities" for o in native.get_outputs())


def feeds(session: Any, frame: Any) -> dict[str, Any]:
    """The onnxruntime input dict for ``frame`` (see the module doc for the two layouts)."""
    import numpy as np

    inputs = session.get_inputs()
    columns = list(frame.columns)
    if len(inputs) == 1 and inputs[0].name not in columns:
        dtype = _NUMPY_OF.get(inputs[0].type, "float32")
        return {inputs[0].name: frame.to_numpy(dtype=dtype)}
    out: dict[str, Any] = {}
    for spec in inputs:
        if spec.name not in columns:
            raise ValidationError(
                f"the ONNX model needs an input column {spec.name!r}; the frame has {columns}"
            )
        dtype = _NUMPY_OF.get(spec.type, "float32")
        values = frame[spec.name]
        if dtype == "object":
            col = np.asarray(values.astype(str).to_numpy(dtype=object)).reshape(-1, 1)
        else:
            col = values.to_numpy(dtype=dtype).reshape(-1, 1)
        out[spec.name] = col
    return out
