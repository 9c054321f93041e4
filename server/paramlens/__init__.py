"""paramlens: the facts of a PyTorch model on the lines of its source."""

__version__ = "0.1.0"
