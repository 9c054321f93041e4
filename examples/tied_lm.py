"""A small language model with tied input/output embeddings, a non-persistent buffer and a
frozen parameter — the cases where counting tensors by name goes wrong."""

import torch
from torch import nn

VOCAB = 1000
DIM = 64
CONTEXT = 128


class TiedLM(nn.Module):
    def __init__(self, vocab=VOCAB, dim=DIM, context=CONTEXT, layers=2):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.blocks = nn.ModuleList(nn.Linear(dim, dim) for _ in range(layers))
        self.norm = nn.LayerNorm(dim)
        self.decoder = nn.Linear(dim, vocab, bias=False)
        self.decoder.weight = self.embed.weight
        self.temperature = nn.Parameter(torch.ones(1), requires_grad=False)
        self.register_buffer("positions", torch.arange(context), persistent=False)
        self.register_buffer("step", torch.zeros((), dtype=torch.long))

    def forward(self, tokens):
        x = self.embed(tokens)
        for block in self.blocks:
            x = torch.relu(block(x))
        return self.decoder(self.norm(x)) / self.temperature


lm = TiedLM(VOCAB, DIM, layers=3)
