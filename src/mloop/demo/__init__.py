"""The demos ``mloop quickstart`` runs: Lending Club (``quickstart``), the closed loop (``loop``),
the feature store on flights (``flights``) and CI/CD through three environments (``cicd``).

They sit above the CLI (they print with its consoles and run pipelines with its progress);
:mod:`mloop.cli.main` names ``mloop.demo.quickstart`` and loads it only when the command runs.
"""
