"""``python -m jupyter_modelops.batch``: score partitions of a planned run from a model directory.

This is the command of the Kubernetes Job's pods. The run was planned where
``predict_batch`` was called: the output folder's ``_batch.json`` names the
version, the id columns and the source's files. Pod ``JOB_COMPLETION_INDEX``
scores that partition (``--index`` overrides it; without either, every
unfinished partition). A source that changed since the plan is refused.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from ..exceptions import ModelOpsError, ValidationError
from . import core


def _plan(args: argparse.Namespace, spec) -> core.ScoringPlan:
    ofs, oroot = core.filesystem(args.output)
    path = f"{oroot}/{core.MANIFEST}"
    if core._kind(ofs, path) != "file":
        raise ValidationError(
            f"The output {args.output!r} has no {core.MANIFEST}: the run was not planned.",
            hint="Start it with predict_batch(..., engine='kubernetes').",
        )
    with ofs.open_input_stream(path) as fh:
        doc = json.loads(fh.read().decode("utf-8"))
    ref = f"{spec.name}:{spec.version}"
    if doc.get("ref") != ref:
        raise ValidationError(
            f"The output {args.output!r} was planned for {doc.get('ref')}, but this image holds "
            f"{ref}; nothing was scored."
        )
    fs, root = core.filesystem(args.source)
    files = core._source_files(fs, root, args.source)
    parts, fingerprint = core._partitions(fs, root, files, args.partition_rows)
    if fingerprint != doc.get("source_files"):
        raise ValidationError(
            f"The source {args.source!r} changed since the run was planned; nothing was scored.",
            hint="Plan the run again into a new output folder.",
        )
    features = spec.feature_names or [i.name for i in spec.inputs]
    ids = [c for c in args.id_columns.split(",") if c]
    return core.ScoringPlan(ref, args.source, args.output, parts, ids, list(features), args.batch_size)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m jupyter_modelops.batch", description=__doc__.splitlines()[0])
    ap.add_argument("--model-dir", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--output", required=True)
    ap.add_argument("--id-columns", required=True)
    ap.add_argument("--batch-size", type=int, default=core.DEFAULT_BATCH_SIZE)
    ap.add_argument("--partition-rows", type=int, default=core.DEFAULT_PARTITION_ROWS)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runtime", choices=("onnx", "torchscript", "native"))
    ap.add_argument("--index", type=int, help="partition to score (default $JOB_COMPLETION_INDEX, else all)")
    ap.add_argument("--debug", action="store_true")
    args = ap.parse_args(argv)
    try:
        from ..serving.modeldir import read_model_dir

        spec = read_model_dir(args.model_dir)
        p = _plan(args, spec)
        index = args.index if args.index is not None else os.environ.get("JOB_COMPLETION_INDEX")
        if index is not None:
            if not str(index).isdigit():
                raise ValidationError(f"The partition index {index!r} is not a number; expected 0, 1, 2...")
            i = int(index)
            if not 0 <= i < len(p.partitions):
                raise ValidationError(f"Partition index {i} is out of range; the run has {len(p.partitions)}.")
            todo = [i]
        else:
            todo = list(range(len(p.partitions)))
        todo = [i for i in todo if i not in core.finished(p)]
        model = core.open_model(args.model_dir, runtime=args.runtime, threads=args.threads)
        rows, seconds = core.run_partitions(p, model, todo)
        print(json.dumps({"ref": p.ref, "partitions": todo, "rows": rows, "seconds": round(seconds, 3)}))
        return 0
    except ModelOpsError as exc:
        if args.debug:
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
