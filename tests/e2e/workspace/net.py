"""The acceptance model: a pooling layer, a BatchNorm and one Linear, with freeze code."""

import torch
from torch import nn


class net(nn.Module):
    def __init__(self):
        super().__init__()
        self.pool = nn.AvgPool1d(2)
        self.bn1 = nn.BatchNorm1d(3)
        self.fc1 = nn.Linear(12, 4)

    def forward(self, x):
        x = self.bn1(self.pool(x))
        return self.fc1(x.flatten(1))


model = net()

for name, value in model.state_dict().items():
    value.requires_grad = False

for name, p in model.named_parameters():
    if "fc1" in name:
        p.requires_grad = False

for name, p in model.named_parameters():
    if "fc2" in name:
        p.requires_grad = False

print(model.fc1.weight.shape, model.bn1.running_mean)
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
n_buffers = sum(b.numel() for b in model.buffers())
for name, buffer in model.named_buffers():
    print(name, buffer.shape)
