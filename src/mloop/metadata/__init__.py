"""The metadata store: the one record of runs, executions, artifacts, lineage and metrics."""
