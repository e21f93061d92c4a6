"""Training checkpoints: a torch module, its optimizer and the step, as registry versions.

A checkpoint is an ordinary version of ``name`` (flavor ``torch``, tagged
``checkpoint`` and ``step``) with two more artifacts: ``optimizer`` (the
optimizer's ``state_dict``) and, when ``extra`` is not JSON, ``extra`` (saved
with ``torch.save``). Everything is read back with ``weights_only=True``.
"""

from __future__ import annotations

import io
import json
from typing import Any, Mapping

from .._optional import require
from ..exceptions import ValidationError
from . import signature as sig
from ._refs import check_name
from .api import _commit, _files, _lineage, get
from .flavors import TorchFlavor, _type_path, flavors
from .results import Checkpoint, ModelVersion
from .store import default_store

__all__ = ["checkpoint", "restore_checkpoint"]


def checkpoint(
    model: Any, name: str, *, step: int, optimizer: Any = None, extra: Any = None, notes: str | None = None
) -> ModelVersion:
    """Store the training state of a torch module as the next version of ``name``.

    Parameters
    ----------
    model : torch.nn.Module
    name : str
    step : int
        Training step or epoch (>= 0).
    optimizer : torch.optim.Optimizer, optional
        Its ``state_dict()`` is stored too.
    extra : object, optional
        Anything else to keep (a dict of numbers, a scheduler's state...):
        JSON when possible, else ``torch.save``.
    notes : str, optional

    Returns
    -------
    ModelVersion
        Tagged ``checkpoint``; ``mv.meta["checkpoint"]["step"] == step``.
    """
    check_name(name)
    torch = require("torch", purpose="checkpoint torch modules")
    if not isinstance(model, torch.nn.Module):
        raise ValidationError(f"The argument 'model' must be a torch.nn.Module; got {type(model).__name__}.")
    if isinstance(step, bool) or not isinstance(step, int) or step < 0:
        raise ValidationError(f"The argument 'step' must be a whole number >= 0; got {step!r}.")
    if optimizer is not None and not hasattr(optimizer, "state_dict"):
        raise ValidationError(f"The argument 'optimizer' must be a torch optimizer; got {type(optimizer).__name__}.")
    if notes is not None and not isinstance(notes, str):
        raise ValidationError(f"The argument 'notes' must be a string; got {type(notes).__name__}.")
    fl = TorchFlavor()
    info: dict[str, Any] = {"step": step, "optimizer": _type_path(optimizer) if optimizer is not None else None}
    extra_bytes = None
    if extra is not None:
        try:
            info["extra"] = json.loads(json.dumps(extra))
        except (TypeError, ValueError):
            buf = io.BytesIO()
            torch.save(extra, buf)
            extra_bytes = buf.getvalue()
            info["extra"] = None
    meta: dict[str, Any] = {
        "params": {},
        "tags": {"checkpoint": "", "step": str(step)},
        "notes": notes,
        "class": f"{type(model).__module__}.{type(model).__qualname__}",
        "checkpoint": info,
        "signature": {"inputs": [], "outputs": [], "feature_names": []},
        "frameworks": fl.frameworks(),
        "environment": sig.environment(model=model),
        "git": sig.git_info(),
        "notebook": sig.notebook_path(),
        "trusted": False,
        "origin": {"kind": "checkpoint"},
        "flavor_roles": ["model"],
    }
    store = default_store()
    with store.staging() as stage:
        state_path = stage / "state_dict.pt"
        torch.save(model.state_dict(), state_path)
        staged = {
            "model": (
                store.stage(state_path),
                {
                    "file": "state_dict.pt",
                    "format": "state_dict",
                    "metadata": {"class": _type_path(model), "init_kwargs": _jsonable(fl._init_kwargs(model))},
                },
            )
        }
        if optimizer is not None:
            opt_path = stage / "optimizer.pt"
            torch.save(optimizer.state_dict(), opt_path)
            staged["optimizer"] = (
                store.stage(opt_path),
                {"file": "optimizer.pt", "format": "state_dict", "metadata": {"class": info["optimizer"]}},
            )
        if extra_bytes is not None:
            staged["extra"] = (
                store.stage_bytes(stage, "extra.pt", extra_bytes),
                {"file": "extra.pt", "format": "torch", "metadata": {}},
            )
        return _commit(store, name, "torch", meta, staged, parent=_lineage(model))


def _jsonable(d: Mapping) -> dict:
    try:
        return json.loads(json.dumps(dict(d)))
    except (TypeError, ValueError):
        return {}


def restore_checkpoint(ref: str | ModelVersion, *, model: Any = None, optimizer: Any = None) -> Checkpoint:
    """Bring back a checkpoint: load its state into ``model`` and ``optimizer`` (in place).

    Parameters
    ----------
    ref : str or ModelVersion
        ``"name"`` is the latest checkpoint.
    model : torch.nn.Module, optional
        Receives the weights; when None the module is rebuilt from its class.
    optimizer : torch.optim.Optimizer, optional
        Receives the optimizer state (built on ``model``'s parameters).

    Returns
    -------
    Checkpoint
        ``.model``, ``.optimizer``, ``.step`` and ``.extra``.
    """
    torch = require("torch", purpose="restore torch checkpoints")
    mv = ref if isinstance(ref, ModelVersion) else get(ref)
    info = mv.meta.get("checkpoint")
    if info is None:
        raise ValidationError(
            f"{mv.ref} is not a checkpoint (it was stored with snapshot()).",
            hint="Use load() for it, or pass a version made by checkpoint().",
        )
    store = default_store()
    files = _files(store, mv, [r for r in ("model", "optimizer", "extra") if r in mv.artifacts])
    state = torch.load(files["model"], map_location="cpu", weights_only=True)
    if model is None:
        model = flavors.get("torch").load({"model": files["model"]}, mv.artifacts)
    else:
        if not isinstance(model, torch.nn.Module):
            raise ValidationError(f"The argument 'model' must be a torch.nn.Module; got {type(model).__name__}.")
        try:
            model.load_state_dict(state)
        except RuntimeError as exc:
            raise ValidationError(
                f"The checkpoint {mv.ref} does not fit this model: {str(exc).splitlines()[0]}"
            ) from exc
    if optimizer is not None:
        if "optimizer" not in files:
            raise ValidationError(f"The checkpoint {mv.ref} has no optimizer state.")
        optimizer.load_state_dict(torch.load(files["optimizer"], map_location="cpu", weights_only=True))
    extra = info.get("extra")
    if "extra" in files:
        extra = torch.load(files["extra"], map_location="cpu", weights_only=True)
    return Checkpoint(mv, model, optimizer, int(info["step"]), extra)
