"""``mloop traffic``: show or change a running service's canary and shadow (admin API).

Talks to ``PUT /admin/traffic`` with the admin token from ``MLOOP_SERVE_ADMIN_TOKEN``. The
service loads the new challenger first and switches only when it is ready, on every worker.
``--follow`` unpins a champion pinned by ``POST /admin/reload {"uri": ...}``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from mloop.cli.options import JsonOption

app = typer.Typer(
    name="traffic",
    help="Show or change a running service's canary and shadow.",
    add_completion=False,
)


_OFF = ("off", "none")


@app.command()
def traffic(
    url: Annotated[str, typer.Option(help="The service's base URL.")] = "http://127.0.0.1:8080",
    canary: Annotated[
        str | None,
        typer.Option(help="Send PERCENT of requests to URI: URI:PERCENT; 'off' removes it."),
    ] = None,
    shadow: Annotated[
        str | None, typer.Option(help="Mirror every request to URI; 'off' removes it.")
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Remove canary and shadow.")] = False,
    follow: Annotated[
        bool,
        typer.Option(
            "--follow",
            help="Unpin the champion: reload the URI the service started with and follow its "
            "alias again (after a reload with an explicit URI).",
        ),
    ] = False,
    reason: Annotated[
        str | None,
        typer.Option(help="Why: kept with the change in the service's traffic history."),
    ] = None,
    admin_token: Annotated[
        str | None, typer.Option(envvar="MLOOP_SERVE_ADMIN_TOKEN", show_default=False)
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Without options, show the traffic; with --canary/--shadow/--clear, change it. A change
    is partial: --shadow leaves a canary set earlier in place, and the other way round."""
    import httpx
    import orjson

    from mloop.cicd.environments import current_actor
    from mloop.cli.output import console, print_json
    from mloop.errors import ConfigError, MloopError
    from mloop.serving.settings import parse_canary

    headers = {"authorization": f"Bearer {admin_token}"} if admin_token else {}
    headers["x-mloop-actor"] = current_actor()
    why: dict[str, object] = {"reason": reason} if reason else {}
    change = clear or canary is not None or shadow is not None
    try:
        resp = None
        if follow:
            resp = httpx.post(
                f"{url}/admin/reload",
                content=orjson.dumps({"follow": True, **why}),
                headers=headers,
                timeout=180,
            )
        if resp is not None and resp.status_code != 200:
            pass  # reported below
        elif change:
            body: dict[str, object] = {"canary": None, "shadow": None} if clear else {}
            body.update(why)
            if canary and canary.lower() not in _OFF:
                uri, pct = parse_canary(canary)
                body["canary"] = {"uri": uri, "percent": pct}
            elif canary is not None:
                body["canary"] = None
            if shadow and shadow.lower() not in _OFF:
                body["shadow"] = {"uri": shadow}
            elif shadow is not None:
                body["shadow"] = None
            resp = httpx.put(
                f"{url}/admin/traffic", content=orjson.dumps(body), headers=headers, timeout=180
            )
        else:
            resp = httpx.get(f"{url}/admin/traffic", headers=headers, timeout=30)
    except httpx.HTTPError as exc:
        raise ConfigError(
            f"cannot reach the service at {url}: {exc}; is 'mloop serve' running?"
        ) from None
    doc = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
    if resp.status_code != 200:
        raise MloopError(f"{url} answered {resp.status_code}: {doc.get('message', resp.text)}")
    if as_json:
        print_json(doc)
        return
    for role in ("champion", "canary", "shadow"):
        item = doc.get(role)
        if item is None:
            console().print(f"{role:9} -")
            continue
        share = f" ({item['percent']:g}%)" if role == "canary" else ""
        pin = ""
        if role == "champion" and doc.get("pinned"):
            pin = " (pinned; --follow to follow the alias again)"
        elif role == "champion" and doc.get("follows"):
            pin = f" (follows {doc['follows']})"
        console().print(f"{role:9} {item['uri']} version {item.get('version')}{share}{pin}")
