"""``mloop ci``: the source text's CI checks on a user's project (unit tests of feature logic, a
smoke run of every pipeline, convergence, finite outputs, declared artifacts, step integration,
signature vs the serving contract), with their Rich, JUnit XML and Markdown reports."""
