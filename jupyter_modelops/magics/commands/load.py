"""Load a model version back into the notebook (hashes are checked first).

Example: %modelops load churn@production -o model
"""

SUMMARY = "load a model version (use -o NAME to keep it in a variable)"


def add_arguments(parser) -> None:
    parser.add_argument("ref", help="reference: churn, churn:3 or churn@production")
    parser.add_argument("--format", choices=["torchscript"], help="load the TorchScript file of a torch version")
    parser.add_argument("--trusted", action="store_true", help="allow a pickle/joblib version from a bundle")


def run(args, shell):
    from ...registry import load

    return load(args.ref, trusted=args.trusted, format=args.format)
