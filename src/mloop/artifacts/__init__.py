"""Where artifact bytes live: local folders or any fsspec file system, atomically, with digests."""
