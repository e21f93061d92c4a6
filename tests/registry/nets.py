"""Small torch modules whose classes the registry can import back."""

from __future__ import annotations

import torch
from torch import nn


class SmallNet(nn.Module):
    def __init__(self, n_in: int = 30, hidden: int = 16) -> None:
        super().__init__()
        self.init_kwargs = {"n_in": n_in, "hidden": hidden}
        self.body = nn.Sequential(nn.Linear(n_in, hidden), nn.ReLU(), nn.Linear(hidden, 2))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.body(x), dim=-1)


class NeedsArgs(nn.Module):
    """No init_kwargs: only TorchScript can bring it back in another process."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.lin = nn.Linear(4, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lin(x)
