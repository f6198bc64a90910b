"""The CD gates an environment applies before a package or model version goes there (libraries,
resources, expected outputs, metrics, data validation): :func:`mloop.cicd.gates.run.run_gates`
is the one path ``mloop deploy`` and ``mloop promote`` take (ADR 0024)."""
