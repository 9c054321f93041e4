from torch import nn

from . import config
from .config import NUM_CLASSES
from .layers import ConvBNAct


class SmallCNN(nn.Module):
    def __init__(self, widths=config.WIDTHS, num_classes=NUM_CLASSES):
        super().__init__()
        layers = []
        cin = 3
        for width in widths:
            layers.append(ConvBNAct(cin, width, stride=2))
            cin = width
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.head = nn.Linear(cin, num_classes)

    def forward(self, x):
        return self.head(self.pool(self.features(x)).flatten(1))


def small_cnn_wide() -> SmallCNN:
    return SmallCNN(widths=(32, 64, 128))
