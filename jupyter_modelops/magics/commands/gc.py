"""Remove what crashed writers left in the registry and files no version uses.

Example: %modelops gc
"""

SUMMARY = "clean up the registry's unreferenced files"


def add_arguments(parser) -> None:
    pass


def run(args, shell):
    from ...registry import gc

    return gc()
