"""feedapp: a desktop lab for algorithmic feeds."""

__version__ = "0.1.0"
