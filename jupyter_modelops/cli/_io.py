"""Shared CLI helpers: printing results, loading data and model files."""

from __future__ import annotations

import json
import sys
from typing import Any

from .._html import to_jsonable
from ..exceptions import ValidationError
from ..io import read_table  # noqa: F401  (re-exported for the commands)


def emit(result: Any, *, as_json: bool = False, html: str | None = None) -> None:
    """Print a result object: its JSON with ``--json``, else its text summary."""
    if html:
        result.save_html(html)
    if as_json:
        print(json.dumps(to_jsonable(result.to_dict()), indent=2))
    else:
        text = result.to_text() if hasattr(result, "to_text") else repr(result)
        print(text)
        if html:
            print(f"HTML report: {html}")


def split_target(df, target: str, *, what: str = "data"):
    if target not in df.columns:
        from ..exceptions import suggest

        raise ValidationError(
            f"The target column '{target}' is not in the {what}.{suggest(target, map(str, df.columns))} "
            f"Columns are: {', '.join(map(str, list(df.columns)[:20]))}."
        )
    return df.drop(columns=[target]), df[target].to_numpy()


def stdout_is_tty() -> bool:
    return sys.stdout.isatty()
