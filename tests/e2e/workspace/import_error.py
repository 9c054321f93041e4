"""A file importing a package that is not installed (line 4): its model fails on line 10."""

from torch import nn
from paramlens_missing_package import Layer


class UsesMissing(nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = Layer()
