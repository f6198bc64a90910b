"""Offline feature stores: where point-in-time training sets are computed."""
