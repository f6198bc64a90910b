"""Pipelines: the @step/@pipeline DSL, the pure graph, runners, caching, materializers."""
