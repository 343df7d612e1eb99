"""Artifact persistence: the only code that touches files or buckets."""
