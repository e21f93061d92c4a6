"""Send the rows of a CSV or Parquet file to a served model (any V2 server) and print the outputs.

TARGET is a local deployment's name or a URL (http://127.0.0.1:8080).

Examples:
  modelops predict churn --data rows.csv
  modelops predict http://127.0.0.1:8080 --data rows.parquet --drop target --json
"""

SUMMARY = "send rows from a file to a served model (V2 client) and print the outputs"


def add_arguments(p):
    p.add_argument("target", help="local deployment name or server URL")
    p.add_argument("--data", required=True, help="CSV or Parquet file with the rows")
    p.add_argument("--drop", action="append", default=[], metavar="COLUMN", help="drop this column first")
    p.add_argument("--model", default=None, help="model name when the server serves several")
    p.add_argument("--binary", action="store_true", help="use the binary tensor extension")
    p.add_argument("--json", action="store_true")


def run(args) -> int:
    from ...serving.client import predict
    from .._io import emit, read_table

    df = read_table(args.data)
    if args.drop:
        from ...exceptions import ValidationError

        missing = [c for c in args.drop if c not in df.columns]
        if missing:
            raise ValidationError(f"--drop names columns that the data lacks: {', '.join(missing)}.")
        df = df.drop(columns=args.drop)
    emit(predict(args.target, df, model=args.model, binary=args.binary), as_json=args.json)
    return 0
