"""Send rows to a served model (any V2 server) and show its answer.

DEPLOYMENT is a variable holding a LocalDeployment, a local deployment's
name, or a URL; X is a variable holding a DataFrame or an array.

Examples: %modelops predict dep X_test[:5]
          %modelops predict churn X_test.head()
          %modelops predict http://127.0.0.1:8080 X --binary -o p
"""

SUMMARY = "send rows to a served model (V2 client) and show the named outputs"


def add_arguments(p):
    p.add_argument("deployment", help="variable holding a deployment, a local deployment name, or a URL")
    p.add_argument("X", help="variable (or expression such as X_test[:5]) holding the rows")
    p.add_argument("--model", default=None, help="model name when the server serves several")
    p.add_argument("--binary", action="store_true", help="use the binary tensor extension")


def run(args, shell):
    from ...serving.client import predict
    from .._util import resolve

    target = args.deployment
    head = target.split(".", 1)[0].split("[", 1)[0]
    if "://" not in target and head in shell.user_ns:
        target = resolve(shell, target, "deployment")
    X = resolve(shell, args.X, "data")
    return predict(target, X, model=args.model, binary=args.binary)
