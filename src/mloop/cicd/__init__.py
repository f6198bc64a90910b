"""mloop.cicd (layer L6): level 2 of the source text, CI/CD of the pipelines.

This half holds the checks: ``mloop ci`` (:mod:`mloop.cicd.checks`, with its reports in
:mod:`~mloop.cicd.junit` and :mod:`~mloop.cicd.markdown_report`), ``mloop init``
(:mod:`~mloop.cicd.scaffold` and ``templates/init``), ``mloop loadtest``
(:mod:`~mloop.cicd.loadtest`) and online experiments (:mod:`~mloop.cicd.experiments`,
:mod:`~mloop.cicd.sequential`). Environments, pipeline packages, promotion and deployments live
beside them. See docs/cicd-checks.md.
"""
