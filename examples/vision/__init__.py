"""A package with relative imports: ``paramlens summary examples/vision/models.py``."""
