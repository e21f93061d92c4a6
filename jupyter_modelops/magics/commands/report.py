"""Run a monitoring report (a papermill template) for a model version now.

Examples: %modelops report churn@production --data current.parquet
          %modelops report churn:3 --template drift --data new.csv -p psi_fail 0.3
"""

SUMMARY = "run a monitoring report notebook for a model version"


def add_arguments(p):
    p.add_argument("ref", help="registry reference, e.g. churn@production")
    p.add_argument("--data", help="current data (CSV or Parquet)")
    p.add_argument("--template", default="monitoring", help="monitoring, evaluation, drift, or a notebook path")
    p.add_argument("-p", "--param", nargs=2, action="append", metavar=("NAME", "VALUE"), default=[],
                   help="a template parameter (checked against the template's declared type)")
    p.add_argument("--notify", help="webhook URL posted to when the run or a gate fails")
    p.add_argument("--output-dir", help="where to write the notebook, HTML and summary")


def run(args, shell):
    from ...reports import report

    return report(args.ref, template=args.template, data=args.data, params=dict(args.param),
                  params_from_text=True, notify=args.notify, output_dir=args.output_dir)
