"""Objects whose deserialization has a visible side effect: a marker file appears.

A test that must prove a file was *not* deserialized asserts that the marker
does not exist; its positive control (after the user trusts the version)
asserts that it does.
"""

from __future__ import annotations

import pathlib


class SetstateMarker:
    """skops restores it through ``__setstate__``, which writes the marker file named in its state."""

    def __init__(self, marker: str) -> None:
        self.marker = str(marker)

    def __getstate__(self) -> dict:
        return {"marker": self.marker}

    def __setstate__(self, state: dict) -> None:
        pathlib.Path(state["marker"]).write_text("deserialized")
        self.__dict__.update(state)


class ReduceMarker:
    """Unpickling it calls ``Path.touch(marker)``: the file appears whenever the pickle is loaded."""

    def __init__(self, marker: str) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (pathlib.Path.touch, (pathlib.Path(self.marker),))
