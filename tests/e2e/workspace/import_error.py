"""A file whose import fails on line 4."""

from torch import nn
from paramlens_missing_package import Layer


class UsesMissing(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = Layer()
