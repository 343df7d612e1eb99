"""Experiment tracking: the Client, the fluent API and the metric batcher."""
