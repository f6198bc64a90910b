"""``mloop quickstart --example cicd``: a change goes from a branch to production.

In a temporary copy of the Lending Club demo with three environments (test, staging, prod; each
its own SQLite metadata store and artifact folder, or PostgreSQL for prod), the walk is:

1. the pipeline as on ``main`` is packaged (v1); on a branch, a change to
   ``pipelines/training.py`` (a stronger regularisation, and pushing to each environment's own
   model alias: ``test``, ``staging``, ``production``) is packaged (v2) and diffed against v1;
2. v2 is deployed to **test** (``approval: auto``) and the test controller runs it;
3. it is promoted to **staging** (``approval: review``), approved by a reviewer, and run there
   twice (``min_successful_runs`` of prod);
4. it is promoted to **prod** (``approval: manual``): the author's own approval is refused, a
   second person approves, and the prod controller runs exactly that package, whose push moves
   ``models:/lending_club@production`` in prod's own registry (what ``mloop serve`` follows).

Every step is a row of the Rich table printed as it goes, and every deployment is recorded with
who, when and why (``mloop deployments list`` in the printed folder).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PIPELINE = "training"
DEMO_PARAMS = {"source": "data/lending_club.parquet", "sample": 0.4}
"""The demo trains on 40 % of the loans: the walk runs the pipeline four times."""
_DOCLINE = (
    '    """ingest -> split -> train -> evaluate + infra_validate -> push (see the module doc)."""'
    "\n"
)
CHANGES = (
    ("    C: float = 0.1,", "    C: float = 0.05,"),
    ('    alias: str = "production",', '    alias: str = "",'),
    (
        "from mloop.components.push import push\n",
        "from mloop.components.push import alias_for_environment, push\n"
        "from mloop.config import load_settings\n",
    ),
    (
        _DOCLINE,
        _DOCLINE + "    alias = alias or alias_for_environment(load_settings().environment)\n",
    ),
)
"""The branch's change to pipelines/training.py: a stronger L2 regularisation, and the model
pushed to (and compared with) the alias of the environment the run is in."""
AUTHOR, REVIEWER, APPROVER = "dana", "rui", "olga"

PROJECT_FILE = """# written by `mloop quickstart --example cicd` (see docs/cicd.md)
project: lending_club
default_environment: test
environments:
  test:
    metadata: sqlite:///.mloop/test.db
    artifacts: .mloop/test/artifacts
    promotion: {{approval: auto}}
  staging:
    metadata: sqlite:///.mloop/staging.db
    artifacts: .mloop/staging/artifacts
    promotion: {{from: test, approval: review}}
  prod:
    metadata: {prod_metadata}
    artifacts: .mloop/prod/artifacts
    promotion: {{from: staging, approval: manual, min_successful_runs: 2}}
pipelines:
  training:
    entrypoint: pipelines/training.py:training
    params: {{source: {source}, sample: {sample}}}
"""


@dataclass
class Walk:
    """The steps taken (for the table, the JSON summary and tests)."""

    folder: Path
    rows: list[dict[str, Any]] = field(default_factory=list)
    deployments: dict[str, str] = field(default_factory=dict)  # env -> active deployment id
    runs: dict[str, list[str]] = field(default_factory=dict)  # env -> run ids
    packages: dict[str, str] = field(default_factory=dict)  # "main" | "branch" -> digest
    aliases: dict[str, int | None] = field(default_factory=dict)  # env -> version of its alias


def prepare_cicd_project(folder: Path | None, prod_metadata: str | None = None) -> Path:
    """A fresh copy of the Lending Club demo in ``folder`` (default: a new temporary folder),
    with the three environments' project file."""
    from mloop.demo.sources import demo_source

    target = Path(folder) if folder else Path(tempfile.mkdtemp(prefix="mloop-cicd-"))
    if target.exists() and any(target.iterdir()):
        from mloop.errors import ConfigError

        raise ConfigError(f"{target} is not empty; the cicd demo needs a new folder")
    shutil.copytree(
        demo_source(),
        target,
        ignore=shutil.ignore_patterns(".mloop", "__pycache__", "*.pyc"),
        dirs_exist_ok=True,
    )
    text = PROJECT_FILE.format(
        prod_metadata=prod_metadata or "sqlite:///.mloop/prod.db",
        source=DEMO_PARAMS["source"],
        sample=DEMO_PARAMS["sample"],
    )
    (target / "mloop.yaml").write_text(text, encoding="utf-8")
    return target


@contextmanager
def _inside(folder: Path, env: str) -> Iterator[None]:
    """Run as a controller of ``env`` would: from the project folder, with ``MLOOP_ENV`` set
    (the pipeline's push reads it to pick the environment's stores and alias)."""
    cwd, saved = os.getcwd(), os.environ.get("MLOOP_ENV")
    os.environ["MLOOP_ENV"] = env
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(cwd)
        if saved is None:
            os.environ.pop("MLOOP_ENV", None)
        else:
            os.environ["MLOOP_ENV"] = saved


def run_cicd_quickstart(
    project_dir: Path | None = None,
    *,
    prod_metadata: str | None = None,
    echo: Callable[[Any], None] | None = None,
) -> Walk:
    """Walk a change from a branch to production (see the module doc); returns the walk."""
    from rich.table import Table

    from mloop.cicd import promotion
    from mloop.cicd.environments import open_environment
    from mloop.cicd.packages import build_package, diff_packages
    from mloop.components.push import alias_for_environment
    from mloop.controller.ondemand import request_run, run_now
    from mloop.errors import PromotionRefusedError

    folder = prepare_cicd_project(project_dir, prod_metadata).resolve()
    walk = Walk(folder)
    show = echo or (lambda _thing: None)
    show(f"CI/CD demo project: [bold]{folder}[/] (environments test, staging, prod)")
    table = Table("#", "where", "step", "result", "s", header_style="bold", show_lines=False)

    def row(where: str, step: str, result: str, started: float) -> None:
        seconds = time.perf_counter() - started
        walk.rows.append({"where": where, "step": step, "result": result, "seconds": seconds})
        table.add_row(str(len(walk.rows)), where, step, result, f"{seconds:.1f}")
        show(f"  {len(walk.rows):>2}. [cyan]{where:<8}[/] {step}: {result}")

    def run(env: str, reason: str) -> str:
        started = time.perf_counter()
        target = open_environment(folder, env)
        with _inside(folder, env):
            event = request_run(target.store, target.settings, PIPELINE, reason=reason)
            done = run_now(target.store, target.settings, event, holder=f"{env}-controller")
        if done.state.value != "succeeded" or done.run_id is None:
            from mloop.errors import MloopError

            raise MloopError(f"the {env} run failed: {done.error}")
        walk.runs.setdefault(env, []).append(done.run_id)
        tags = target.store.get_run(done.run_id).tags
        push = tags.get("mloop.push", "?")
        version = tags.get("mloop.push.version")
        row(
            env,
            f"controller runs deployed package ({reason})",
            f"run {done.run_id[:8]} succeeded; push {push}" + (f" v{version}" if version else ""),
            started,
        )
        return done.run_id

    test = open_environment(folder, "test")
    started = time.perf_counter()
    with _inside(folder, "test"):
        main = build_package(test, PIPELINE, created_by=AUTHOR)
    walk.packages["main"] = main.digest
    row("main", "mloop pipeline build training", f"package v{main.version} {main.short}", started)

    started = time.perf_counter()
    source = folder / "pipelines" / "training.py"
    text = source.read_text(encoding="utf-8")
    for old, new in CHANGES:
        if old not in text:
            from mloop.errors import ConfigError

            raise ConfigError(f"{source} no longer has the line the demo changes: {old!r}")
        text = text.replace(old, new, 1)
    source.write_text(text, encoding="utf-8")
    with _inside(folder, "test"):
        branch = build_package(test, PIPELINE, created_by=AUTHOR)
    walk.packages["branch"] = branch.digest
    diff = diff_packages(main, branch)
    changed = ", ".join(diff["code"]["changed"] + [f"step {s}" for s in diff["steps"]["changed"]])
    row(
        "branch",
        "C 0.1 -> 0.05, push to the env's alias; build; diff",
        f"package v{branch.version} {branch.short}; changed {changed}",
        started,
    )

    started = time.perf_counter()
    result = promotion.deploy(
        folder, PIPELINE, "test", package=branch.digest, reason="CI: branch merged", actor=AUTHOR
    )
    walk.deployments["test"] = result.deployment.id
    row(
        "test",
        "mloop deploy training --env test",
        f"{result.deployment.state.value} (auto)",
        started,
    )
    run("test", "smoke run in test")

    started = time.perf_counter()
    staged = promotion.promote(
        folder, PIPELINE, source="test", target="staging", reason="passed test", actor=AUTHOR
    )
    row("staging", "mloop promote --from test --to staging", staged.deployment.state.value, started)
    started = time.perf_counter()
    staged = promotion.approve(
        folder, staged.deployment.id, reason="reviewed the diff", actor=REVIEWER
    )
    walk.deployments["staging"] = staged.deployment.id
    row("staging", f"mloop approve (by {REVIEWER})", staged.deployment.state.value, started)
    run("staging", "pre-production run 1")
    run("staging", "pre-production run 2")

    started = time.perf_counter()
    asked = promotion.promote(
        folder, PIPELINE, source="staging", target="prod", reason="2 good runs", actor=AUTHOR
    )
    row("prod", "mloop promote --from staging --to prod", asked.deployment.state.value, started)
    started = time.perf_counter()
    try:
        promotion.approve(folder, asked.deployment.id, reason="my own change", actor=AUTHOR)
        refused = "approved (unexpected)"
    except PromotionRefusedError:
        refused = "refused: manual approval needs a second person"
    row("prod", f"mloop approve (by the author, {AUTHOR})", refused, started)
    started = time.perf_counter()
    live = promotion.approve(
        folder, asked.deployment.id, reason="signed off for production", actor=APPROVER
    )
    walk.deployments["prod"] = live.deployment.id
    row("prod", f"mloop approve (by {APPROVER})", live.deployment.state.value, started)
    run("prod", "production run")

    show(table)
    for env in ("test", "staging", "prod"):
        alias = alias_for_environment(env)
        version = _alias_version(open_environment(folder, env), alias)
        walk.aliases[env] = version
        show(
            f"{env}: models:/lending_club@{alias} = "
            + (f"v{version}" if version is not None else "not set")
            + f"  (serve it: mloop --env {env} serve models:/lending_club@{alias})"
        )
    show(f"History: cd {folder} && mloop deployments list")
    return walk


def _alias_version(env: Any, alias: str) -> int | None:
    """The model version behind ``alias`` in ``env``'s registry (None: nothing pushed there)."""
    from mloop.errors import NotFoundError

    try:
        return env.store.model_registry().get_alias("lending_club", alias)
    except NotFoundError:
        return None
