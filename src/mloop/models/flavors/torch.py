"""PyTorch ``nn.Module`` models, stored as a ``torch.export`` program (``model.pt2``): the graph
and weights, no pickled Python classes. Optional: ``pip install 'mloop[torch]'`` (install the
CPU wheel of torch first if you do not want CUDA libraries).

The module takes one float32 tensor ``(rows, columns)`` built from the signature's columns in
order; its output is the prediction. ``predict_proba`` is the output itself when the package was
saved with ``flavor_options={"outputs": "probabilities"}``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mloop.errors import ValidationError
from mloop.models.flavors.base import Flavor

FILE = "model.pt2"


class TorchFlavor(Flavor):
    name = "torch"
    module = "torch"
    distributions = ("torch", "numpy")
    extra = "torch"

    def matches(self, model: Any) -> bool:
        return any(
            k.__module__.startswith("torch.nn") and k.__name__ == "Module"
            for k in type(model).__mro__
        )

    def save(self, model: Any, folder: Path, example: Any | None) -> dict[str, Any]:
        import torch

        if example is None:
            raise ValidationError(
                "saving a PyTorch model needs input_example= (a frame of a few rows): "
                "torch.export traces the module with it"
            )
        x = _tensor(example)
        if x.shape[0] < 2:  # a batch of one would specialise the traced graph to one row
            x = torch.cat([x, x])
        batch = torch.export.Dim("batch", min=1)
        program = torch.export.export(model.eval(), (x,), dynamic_shapes=({0: batch},))
        torch.export.save(program, str(folder / FILE))
        return {}

    def load(self, folder: Path, options: dict[str, Any]) -> Any:
        import torch

        return torch.export.load(str(folder / FILE)).module()

    def predict(self, native: Any, frame: Any, options: dict[str, Any]) -> Any:
        import torch

        with torch.no_grad():
            out = native(_tensor(frame))
        arr = out.detach().cpu().numpy()
        return arr[:, 0] if arr.ndim == 2 and arr.shape[1] == 1 else arr

    def predict_proba(self, native: Any, frame: Any, options: dict[str, Any]) -> Any | None:
        if options.get("outputs") != "probabilities":
            return None
        return self.predict(native, frame, options)

    def has_proba(self, native: Any, options: dict[str, Any]) -> bool:
        return options.get("outputs") == "probabilities"


def _tensor(frame: Any) -> Any:
    import numpy as np
    import torch

    from mloop.models.package import as_pandas

    values = as_pandas(frame).to_numpy(dtype=np.float32)
    return torch.from_numpy(np.ascontiguousarray(values))
