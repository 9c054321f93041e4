"""Positions after CJK text and emoji: hovers and diagnostics must land on the right token."""

from torch import nn


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.head = nn.Linear(3, 2)


model = Tiny()
label = "模型🙂"; model.requires_grad = False
note = "模型🙂"; print(model.head.weight)
