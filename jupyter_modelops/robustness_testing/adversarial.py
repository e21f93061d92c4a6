"""FGSM and PGD for differentiable torch models on tabular inputs (torch imported here only).

The budget is an L-infinity box of ``eps * std`` per feature, so one ``eps``
means the same relative change for features of any scale. The loss is the
cross-entropy of the true class (``y``, or the model's own prediction when no
labels are given) for classifiers, the squared error to ``y`` for regressors;
a regressor without labels is pushed along the sign of its output's gradient.
PGD takes 10 steps of ``2.5 * eps / 10`` from the clean point (no random start,
so results are reproducible) and projects back into the box after each step.
"""

from __future__ import annotations

import numpy as np

from .._optional import is_torch_module, require
from ..drift_detection._columns import NUMERIC, Table
from ..exceptions import ValidationError
from .perturbations import Context, _copy

BATCH = 65_536


def attack(table: Table, ctx: Context, *, eps: float, steps: int) -> Table:
    """Return an adversarially perturbed copy of ``table`` (numeric columns only)."""
    if not is_torch_module(ctx.model):
        raise ValidationError("FGSM and PGD need a differentiable torch.nn.Module model.")
    if any(k != NUMERIC for k in table.kinds.values()):
        raise ValidationError("FGSM and PGD need an all-numeric input; this table has categorical columns.")
    torch = require("torch", purpose="run FGSM/PGD attacks")
    model = ctx.model
    names = table.names
    X = np.column_stack([table.columns[c] for c in names]).astype(np.float32)
    std = np.array([ctx.stats[c]["std"] for c in names], dtype=np.float32)
    box = torch.as_tensor(eps * std)
    param = next(iter(model.parameters()), None)
    dtype = param.dtype if param is not None else torch.float32
    device = param.device if param is not None else "cpu"
    box = box.to(dtype=dtype, device=device)
    y = None if ctx.y is None else np.asarray(ctx.y)
    out = np.empty_like(X)
    was_training = model.training
    model.eval()
    try:
        for i in range(0, X.shape[0], BATCH):
            x0 = torch.as_tensor(X[i : i + BATCH]).to(dtype=dtype, device=device)
            yb = None if y is None else y[i : i + BATCH]
            with torch.no_grad():
                clean = model(x0)
            target = _target(torch, clean, yb, ctx.task)
            step = box if steps == 1 else box * (2.5 / steps)
            x = x0.clone()
            for _ in range(steps):
                x.requires_grad_(True)
                loss = _loss(torch, model(x), clean, target, ctx.task)
                (grad,) = torch.autograd.grad(loss, x)
                with torch.no_grad():
                    x = x + step * grad.sign()
                    x = torch.max(torch.min(x, x0 + box), x0 - box)
            out[i : i + BATCH] = x.detach().cpu().numpy()
    finally:
        model.train(was_training)
    res = _copy(table)
    for j, c in enumerate(names):
        res.columns[c] = out[:, j].astype(np.float64)
    return res


def _target(torch, clean, yb, task: str):
    if clean.ndim == 2 and clean.shape[1] > 1:  # class logits
        k = clean.shape[1]
        if yb is not None and yb.dtype.kind in "iuf" and np.all(np.mod(yb, 1) == 0) and yb.min() >= 0 and yb.max() < k:
            return ("ce", torch.as_tensor(yb.astype(np.int64), device=clean.device))
        return ("ce", clean.argmax(dim=1))
    flat = clean.reshape(-1)
    if task == "classification":
        if yb is not None and set(np.unique(yb).tolist()) <= {0, 1}:
            return ("bce", torch.as_tensor(yb.astype(np.float64), dtype=flat.dtype, device=flat.device))
        return ("bce", (flat > 0).to(flat.dtype))
    if yb is not None and yb.dtype.kind in "iuf":
        return ("mse", torch.as_tensor(yb.astype(np.float64), dtype=flat.dtype, device=flat.device))
    return ("out", None)


def _loss(torch, output, clean, target, task: str):
    kind, t = target
    F = torch.nn.functional
    if kind == "ce":
        return F.cross_entropy(output, t, reduction="sum")
    flat = output.reshape(-1)
    if kind == "bce":
        return F.binary_cross_entropy_with_logits(flat, t, reduction="sum")
    if kind == "mse":
        return ((flat - t) ** 2).sum()
    return flat.sum()
