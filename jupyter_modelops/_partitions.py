"""Dask collections: compute small, mergeable statistics per partition and merge them on the client.

Evaluation, drift, profiles and robustness accept Dask DataFrames and Series. None of them gathers the
rows: each partition is summarized where it lives (on its worker) into statistics that merge exactly or
within a stated tolerance (cell counts and moments for the bootstrap, binned counts and quantiles for
profiles), and only those statistics cross the network. The client merges them in partition order, so the
result does not depend on which worker finished first.

The computation runs on the Dask scheduler in effect: the ``distributed.Client`` created last (``Client()``
for a local cluster, ``Client("tcp://scheduler:8786")`` for an existing one, or a ``dask_kubernetes``
cluster's client), or Dask's local threads when none exists.
"""

from __future__ import annotations

from functools import reduce
from typing import Any, Callable, TypeVar

T = TypeVar("T")

_DASK_KINDS = ("DataFrame", "Series")


def is_dask(obj: Any) -> bool:
    """Whether ``obj`` is a Dask DataFrame or Series (without importing Dask)."""
    mod = type(obj).__module__ or ""
    return mod.startswith(("dask.", "dask_expr")) and type(obj).__name__ in _DASK_KINDS


def n_partitions(data: Any) -> int:
    """The number of partitions of a Dask collection."""
    return int(data.npartitions)


def reduce_partitions(
    data: Any, fn: Callable[..., T], merge: Callable[[T, T], T] | None = None, *, indexed: bool = False
) -> T | list[T]:
    """Apply ``fn`` to every partition of ``data`` (a pandas DataFrame or Series on its worker) and merge.

    Parameters
    ----------
    data : dask.dataframe.DataFrame or dask.dataframe.Series
    fn : callable
        ``fn(partition) -> statistics``; it must pickle (a module-level function or a
        ``functools.partial`` of one), since worker processes run it.
    merge : callable, optional
        ``merge(a, b) -> statistics``, applied on the client in partition order. Without it, the list of
        per-partition statistics is returned.
    indexed : bool, default=False
        Call ``fn(partition, i)`` with the partition's position ``i`` (e.g. to seed a per-partition
        random stream, so that a rerun draws the same numbers whichever worker runs it).
    """
    import dask

    parts = data.to_delayed()
    if not parts:
        from .exceptions import ValidationError

        raise ValidationError("The Dask collection has no partitions; expected at least one.")
    calls = [dask.delayed(fn)(p, i) if indexed else dask.delayed(fn)(p) for i, p in enumerate(parts)]
    results = list(dask.compute(*calls))
    if merge is None:
        return results
    return reduce(merge, results)


def first_partition(data: Any) -> Any:
    """The first partition of a Dask collection, computed (e.g. to fix bin edges before the full pass)."""
    return data.get_partition(0).compute()
