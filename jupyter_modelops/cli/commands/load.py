"""Write a model version to a folder (modelops-model.json + its files), hashes checked.

  modelops load churn@production --to ./churn-model

A terminal cannot hold a Python object: this writes the model directory that
the model server and the image builder read (and that Python can load back).
"""

SUMMARY = "write a model version to a folder (model directory)"


def add_arguments(p):
    p.add_argument("ref", help="reference: churn, churn:3 or churn@production")
    p.add_argument("--to", required=True, metavar="DIR", help="folder to write")
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args) -> int:
    import json

    from ...registry import get, materialize

    mv = get(args.ref)
    path = materialize(mv, args.to)
    if args.json:
        print(json.dumps({"ref": mv.ref, "directory": str(path)}))
    else:
        print(f"{mv.ref} written to {path}")
    return 0
