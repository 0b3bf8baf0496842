"""labelscout: decide what to label."""
__version__ = "0.1.0"
