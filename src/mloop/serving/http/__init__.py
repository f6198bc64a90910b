"""The service on the wire: the Starlette app and its fast inference routes, errors as HTTP
answers, bearer tokens, the header timeout, ``/openapi.json`` and the protocols (OIP v2, MLflow)."""
