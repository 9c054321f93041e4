from pathlib import Path

from torch import nn

# A side effect a definitions-only load must skip.
Path("vision-layers-imported.txt").write_text("layers.py ran its top level\n")


class ConvBNAct(nn.Module):
    def __init__(self, cin, cout, stride=1):
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)
        self.bn = nn.BatchNorm2d(cout)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x):
        return self.act(self.bn(self.conv(x)))
