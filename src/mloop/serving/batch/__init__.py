"""Batch prediction: a Parquet file in chunks on this machine (``local``, ``mloop predict``), or
a folder across a Ray cluster (``ray``, ``--runner ray``)."""
