"""The package version, below every layer (the CLI and model files record it)."""

__version__ = "0.1.0"
