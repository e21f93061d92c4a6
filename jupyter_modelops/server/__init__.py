"""The jupyter_server extension: REST handlers over the core API, and background jobs.

Loaded by jupyter_server through ``jupyter_modelops._load_jupyter_server_extension``;
nothing here is imported by ``import jupyter_modelops``.
"""

from __future__ import annotations

from .handlers import NAMESPACE, ROUTES, setup_handlers

__all__ = ["NAMESPACE", "ROUTES", "setup_handlers"]
