"""A fine-tuning script that defines no Module class: the model is built from torch's classes.

paramlens builds `model` on the meta device from its constructor call, so the freeze loops
below are checked against its real names ("encoder.layers.0.self_attn.in_proj_weight", ...):
`paramlens check examples/finetune.py`, `paramlens summary examples/finetune.py`.
"""

import torch
from torch import nn

WIDTH = 64


def freeze(model, prefixes):
    """Freeze every parameter whose name starts with one of ``prefixes``."""
    for name, param in model.named_parameters():
        if any(name.startswith(prefix) for prefix in prefixes):
            param.requires_grad = False


def main():
    encoder = nn.TransformerEncoder(
        nn.TransformerEncoderLayer(d_model=WIDTH, nhead=4, dim_feedforward=128, batch_first=True),
        num_layers=4,
    )
    # "layer." is a slip for "layers.": that prefix freezes nothing
    freeze(encoder, ["layers.0.", "layers.1.", "layer.2."])
    head = nn.Sequential(nn.LayerNorm(WIDTH), nn.Linear(WIDTH, 10))
    for name, param in head.named_parameters():
        if "norm" in name:  # Sequential names its layers "0", "1": nothing is frozen
            param.requires_grad = False
    params = [p for p in (*encoder.parameters(), *head.parameters()) if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    x = torch.randn(8, 16, WIDTH)
    loss = head(encoder(x).mean(1)).logsumexp(-1).mean()
    loss.backward()
    optimizer.step()


if __name__ == "__main__":
    main()
