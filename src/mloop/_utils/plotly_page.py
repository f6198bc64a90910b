"""plotly.js inside a self-contained HTML report, gzip-compressed: 2.0 MB instead of 4.8 MB.

Every report (one per evaluated run) used to inline the whole minified plotly.js, 4.8 MB of a
4.9 MB page; a demo folder reached 31 MB after 12 runs. Here the library travels as base64 of
its gzip (1.5 MB compressed, 2.0 MB as text) and the page unpacks it with the browser's
``DecompressionStream`` (Chrome/Edge 80+, Firefox 113+, Safari 16.4+), so a report still opens
offline, from a file, with nothing beside it. Charts are drawn once the library is unpacked:
a page calls ``window.mloopPlotly.then(function (Plotly) {...})``.
"""

from __future__ import annotations

import base64
import gzip
import json
from functools import lru_cache
from typing import Any

__all__ = ["figure_div", "plotly_loader", "when_plotly_ready"]

_LOADER = """<script type="application/octet-stream" id="mloop-plotly-gz">{payload}</script>
<script>
window.mloopPlotly = (async function () {{
  if (window.Plotly) return window.Plotly;
  if (typeof DecompressionStream === "undefined")
    throw new Error("this browser cannot unpack the charts (it lacks DecompressionStream)");
  var text = document.getElementById("mloop-plotly-gz").textContent;
  var raw = atob(text), bytes = new Uint8Array(raw.length);
  for (var i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
  var stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  (0, eval)(await new Response(stream).text());
  return window.Plotly;
}})();
window.mloopPlotly.catch(function (e) {{
  function say() {{
    document.body.insertAdjacentHTML("afterbegin",
      "<p style='color:#b00020'>charts unavailable: " + String(e) + "</p>");
  }}
  if (document.body) say(); else document.addEventListener("DOMContentLoaded", say);
}});
</script>"""


@lru_cache(maxsize=1)
def _payload() -> str:
    """base64 of gzip(plotly.min.js), computed once per process (about 0.2 s)."""
    from plotly.offline import get_plotlyjs

    return base64.b64encode(gzip.compress(get_plotlyjs().encode("utf-8"), 9, mtime=0)).decode()


def plotly_loader() -> str:
    """The ``<script>`` blocks that define ``window.mloopPlotly`` (a Promise of ``Plotly``);
    put them once, in the head or before the charts' scripts. Needs the ``plotly`` package."""
    return _LOADER.format(payload=_payload())


def when_plotly_ready(code: str) -> str:
    """A ``<script>`` running ``code`` (which may use ``Plotly``) once plotly.js is unpacked."""
    return f"<script>window.mloopPlotly.then(function (Plotly) {{\n{code}\n}});</script>"


def figure_div(figure: Any, div_id: str, *, height: int | None = None) -> str:
    """A plotly figure as a ``<div>`` and the script that draws it when the library is ready."""
    spec = json.loads(figure.to_json())
    payload = json.dumps(spec).replace("<", "\\u003c")  # no "</script>" inside the data
    style = f" style='height:{height}px'" if height else ""
    draw = (
        f"var f = {payload};\nPlotly.newPlot('{div_id}', f.data, f.layout, {{responsive: true}});"
    )
    return f"<div id='{div_id}' class='mloop-chart'{style}></div>" + when_plotly_ready(draw)
