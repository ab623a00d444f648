"""PWS, the Python Web Stack."""

__version__ = "0.1.0"
