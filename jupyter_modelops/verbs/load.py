"""Load a model version (hashes are checked first)."""

from ._spec import Flag, Outcome, Param, Path, Ref, Text, Verb

DOC = {
    "magic": __doc__ + "\n\nExample: {prog} load churn@production -o model\n",
    "cli": """Write a model version to a folder (modelops-model.json + its files), hashes checked.

  {prog} load churn@production --to ./churn-model

A terminal cannot hold a Python object: this writes the model directory that
the model server and the image builder read (and that Python can load back).
""",
}


def run(face, *, ref, format=None, trusted=False, to=None):
    if face.name == "cli":
        from ..registry import get, materialize

        mv = get(ref)
        path = materialize(mv, to, trusted=trusted)
        return Outcome(f"{mv.ref} written to {path}", {"ref": mv.ref, "directory": str(path)})
    from ..registry import load

    return load(ref, trusted=trusted, format=format)


VERB = Verb(
    "load",
    "load a model version (in a notebook, -o NAME keeps it; on the command line, --to DIR writes it)",
    doc=DOC,
    run=run,
    params=[
        Param("ref", Ref(), positional=True, help="reference: churn, churn:3 or churn@production"),
        Param(
            "format",
            Text(),
            faces=("magic",),
            choices=("torchscript",),
            help="load the TorchScript file of a torch version",
        ),
        Param(
            "trusted",
            Flag(),
            aliases=("--trust",),
            help="allow a pickle/joblib version from a bundle or pull without trusting it first (see the trust verb)",
        ),
        Param("to", Path(), faces=("cli",), required=True, metavar="DIR", help="folder to write"),
    ],
)
