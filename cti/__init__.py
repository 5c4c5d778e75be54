"""cti: computer-telephony integration middleware for Asterisk."""

__all__ = ["__version__"]

__version__ = "0.1.0"
