"""safecampus: streaming pipelines for the safe-campus (平安校园) programme."""

__version__ = "0.1.0"
