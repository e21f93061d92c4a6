"""Turn what a core function returns into JSON: ``to_dict()`` and nothing else."""

from __future__ import annotations

import datetime as _dt
import enum
import os
from typing import Any

from .._html import to_jsonable


def to_payload(obj: Any) -> Any:
    """Result objects give ``to_dict()``; containers are walked; paths become strings."""
    if hasattr(obj, "to_dict") and callable(obj.to_dict):
        return to_payload(obj.to_dict())
    if isinstance(obj, dict):
        return {str(k): to_payload(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple, set, frozenset)):
        return [to_payload(v) for v in obj]
    if isinstance(obj, os.PathLike):
        return os.fspath(obj)
    if isinstance(obj, (_dt.datetime, _dt.date)):
        return obj.isoformat()
    if isinstance(obj, enum.Enum):
        return to_payload(obj.value)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", "replace")
    return to_jsonable(obj)
