"""DarkNet-53, the YOLOv3 backbone, as YOLOv3 code writes it — plus a training script.

``paramlens summary examples/darknet.py`` builds ``DarkNet([1, 2, 8, 8, 4])`` on the meta device
without running the freeze loop or the training below (definitions-only loading).
"""

from collections import OrderedDict

import torch
from torch import nn

BLOCKS = [1, 2, 8, 8, 4]


class DarkNet(nn.Module):
    def __init__(self, layers):
        super().__init__()
        self.inplanes = 32
        self.conv1 = nn.Conv2d(3, self.inplanes, kernel_size=3, stride=1, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(self.inplanes)
        self.relu1 = nn.LeakyReLU(0.1)

        self.layer1 = self._make_layer([32, 64], layers[0])
        self.layer2 = self._make_layer([64, 128], layers[1])
        self.layer3 = self._make_layer([128, 256], layers[2])
        self.layer4 = self._make_layer([256, 512], layers[3])
        self.layer5 = self._make_layer([512, 1024], layers[4])

        self.layers_out_filters = [64, 128, 256, 512, 1024]

    def _make_layer(self, planes, blocks):
        layers = []
        layers.append(
            ("ds_conv", nn.Conv2d(self.inplanes, planes[1], 3, stride=2, padding=1, bias=False))
        )
        layers.append(("ds_bn", nn.BatchNorm2d(planes[1])))
        layers.append(("ds_relu", nn.LeakyReLU(0.1)))
        self.inplanes = planes[1]
        for i in range(blocks):
            layers.append((f"residual_{i}", BasicBlock(self.inplanes, planes)))
        return nn.Sequential(OrderedDict(layers))

    def forward(self, x):
        x = self.relu1(self.bn1(self.conv1(x)))
        x = self.layer1(x)
        x = self.layer2(x)
        out3 = self.layer3(x)
        out4 = self.layer4(out3)
        out5 = self.layer5(out4)
        return out3, out4, out5


class BasicBlock(nn.Module):
    def __init__(self, inplanes, planes):
        super().__init__()
        self.conv1 = nn.Conv2d(inplanes, planes[0], kernel_size=1, stride=1, padding=0, bias=False)
        self.bn1 = nn.BatchNorm2d(planes[0])
        self.relu1 = nn.LeakyReLU(0.1)
        self.conv2 = nn.Conv2d(planes[0], planes[1], kernel_size=3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes[1])
        self.relu2 = nn.LeakyReLU(0.1)

    def forward(self, x):
        residual = x
        out = self.relu1(self.bn1(self.conv1(x)))
        out = self.relu2(self.bn2(self.conv2(out)))
        return out + residual


model = DarkNet([1, 2, 8, 8, 4])

# Freeze the backbone stem: this loop (and everything below) must never run during inspection.
for name, param in model.named_parameters():
    if name.startswith("conv1") or name.startswith("bn1"):
        param.requires_grad = False

optimizer = torch.optim.SGD(filter(lambda p: p.requires_grad, model.parameters()), lr=1e-3)
with open("darknet-training.log", "w") as log:
    for step in range(3):
        optimizer.zero_grad()
        outputs = model(torch.randn(2, 3, 64, 64))
        loss = sum(o.mean() for o in outputs)
        loss.backward()
        optimizer.step()
        log.write(f"step {step} loss {loss.item():.4f}\n")
torch.save(model.state_dict(), "darknet.pt")
