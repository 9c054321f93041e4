"""A model that takes a while to build (for edits that land during an inspection)."""

import time

from torch import nn


class Slow(nn.Module):
    def __init__(self):
        super().__init__()
        time.sleep(2.0)
        self.fc = nn.Linear(6, 6)
