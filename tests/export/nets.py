"""A torch module whose class the registry can import back (it carries its init_kwargs)."""

from __future__ import annotations

import torch
from torch import nn


class ChurnNet(nn.Module):
    def __init__(self, n_in: int = 20, hidden: int = 128) -> None:
        super().__init__()
        self.init_kwargs = {"n_in": n_in, "hidden": hidden}
        self.body = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.body(x), dim=-1)
