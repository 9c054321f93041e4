"""A model whose construction kills its process."""

import os
import signal

from torch import nn


class Segfault(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(2, 2)
        os.kill(os.getpid(), signal.SIGSEGV)
