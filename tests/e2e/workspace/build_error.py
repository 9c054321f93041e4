"""A model that fails to build: the error is on line 13."""

from torch import nn


class Broken(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 4)
        self.check()

    def check(self):
        raise ValueError("this model cannot be built")
