"""A minimal model server for infrastructure validation, run as ``python -m
mloop.components.infra_server PACKAGE_DIR`` in a fresh process.

It loads the package (digest verified), binds 127.0.0.1 on a free port, prints one JSON line
``{"port": N, "pid": P}`` on stdout once it is ready (or, when the package cannot be loaded, one
``error: ...`` line on stderr and exits with code 2), and serves:
``GET /ping`` and ``POST /invocations`` (MLflow scoring's ``dataframe_split`` form, answering
``{"predictions": [...], "probabilities": [[...]]}``). Bad input gets a 422 naming the problem.
``mloop.serving`` replaces this with the full service; this stays small on purpose.
"""

from __future__ import annotations

import json
import socket
import sys
from typing import Any


def build_app(model: Any) -> Any:
    """The Starlette app serving ``model`` (a ``LoadedModel``)."""
    import numpy as np
    import pandas as pd
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from mloop.errors import MloopError, wire_status

    async def ping(request: Request) -> JSONResponse:
        return JSONResponse({"ready": True})

    async def invocations(request: Request) -> JSONResponse:
        try:
            body = await request.json()
            split = body["dataframe_split"]
            frame = pd.DataFrame(split["data"], columns=split["columns"])
        except (ValueError, KeyError, TypeError) as exc:
            return JSONResponse(
                {"error_code": "bad_request", "message": f"expected dataframe_split JSON: {exc}"},
                status_code=400,
            )
        try:
            out: dict[str, Any] = {"predictions": np.asarray(model.predict(frame)).tolist()}
            if model.has_proba:
                out["probabilities"] = np.asarray(model.predict_proba(frame)).tolist()
        except MloopError as exc:
            return JSONResponse(
                {"error_code": wire_status(exc)[1], "message": str(exc)},
                status_code=wire_status(exc)[0],
            )
        return JSONResponse(out)

    return Starlette(
        routes=[
            Route("/ping", ping, methods=["GET"]),
            Route("/invocations", invocations, methods=["POST"]),
        ]
    )


def main(argv: list[str]) -> int:
    import os

    import uvicorn

    from mloop.models import load_model

    try:
        model = load_model(argv[0])
    except Exception as exc:  # the one line the validator quotes; exit at once, never hang
        print(f"error: cannot serve {argv[0]}: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)  # connections queue from now on, before uvicorn starts accepting
    port = sock.getsockname()[1]
    config = uvicorn.Config(build_app(model), log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    print(json.dumps({"port": port, "pid": os.getpid()}), flush=True)
    server.run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
