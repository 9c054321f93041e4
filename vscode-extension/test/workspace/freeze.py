"""Freezing through state_dict() values: the loop changes detached copies, nothing is frozen."""

import torch.nn as nn


class Head(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(12, 4)


model = Head()
for _name, param in model.state_dict().items():
    param.requires_grad = False
