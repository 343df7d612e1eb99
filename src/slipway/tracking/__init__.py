"""Experiment tracking: the Client, the fluent API and the metric batcher."""

__all__: list[str] = []
