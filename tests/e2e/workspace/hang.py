"""A model whose __init__ never returns."""

from torch import nn


class Forever(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        while True:
            pass
