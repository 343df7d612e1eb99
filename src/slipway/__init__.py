"""slipway: track, register, serve and monitor machine-learning models."""

from slipway._version import __version__

__all__ = ["__version__"]
