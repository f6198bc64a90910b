"""mloop.cicd (layer L6): level 2 of the source text, CI/CD of the pipelines.

Rooms: ``ci/`` (``mloop ci``: the checks and their JUnit/Markdown reports), ``gates/`` (what an
environment checks before a deployment), ``experiments/`` (online experiments and their
sequential test), ``loadtest/`` (``mloop loadtest``). Beside them: environments, pipeline
packages and their data files (:mod:`~mloop.cicd.packages`), promotion and deployments
(:mod:`~mloop.cicd.promotion`), ``mloop init`` (:mod:`~mloop.cicd.scaffold`, ``templates/init``).
See docs/cicd.md and docs/cicd-checks.md.
"""
