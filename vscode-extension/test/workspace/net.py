"""A small model for the extension's integration test: 58 parameters, BatchNorm buffers."""

import torch
import torch.nn as nn


class net(nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = nn.AvgPool1d(2)
        self.bn = nn.BatchNorm1d(3)
        self.fc = nn.Linear(12, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn(self.pool(x))
        return self.fc(x.flatten(1))


model = net()
