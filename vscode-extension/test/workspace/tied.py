"""A language-model head tied to its embedding: one tensor, two names, counted once."""

import torch.nn as nn


class TiedLM(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.head = nn.Linear(4, 10, bias=False)
        self.head.weight = self.embed.weight


model = TiedLM()
