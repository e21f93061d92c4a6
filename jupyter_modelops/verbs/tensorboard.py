"""Write a version's metrics, report history and monitoring series as TensorBoard event files.

Examples:
  {prog} tensorboard churn@production
  {prog} tensorboard churn:3 --logdir runs/churn

In a notebook, the magic then opens TensorBoard on the folder inline; elsewhere
run `tensorboard --logdir FOLDER`.
"""

from ._spec import Flag, Param, Path, Ref, Text, Verb


def run(face, *, ref, logdir, since, every, store, no_open=False):
    from ..integrations import tensorboard

    result = tensorboard(ref, logdir, since=since, every=every, store=store)
    if face.name == "magic" and not no_open:
        _open(result.logdir)
    return result


def _open(logdir):
    """TensorBoard's notebook integration on the folder; its program is found next to this Python when not on PATH."""
    import os
    import shlex
    import shutil
    import sys
    from pathlib import Path as _Path

    from tensorboard import notebook

    beside = _Path(sys.executable).parent / "tensorboard"
    unset = "TENSORBOARD_BINARY" not in os.environ and shutil.which("tensorboard") is None and beside.is_file()
    if unset:
        os.environ["TENSORBOARD_BINARY"] = str(beside)
    try:
        notebook.start(f"--logdir {shlex.quote(logdir)} --host 127.0.0.1")
    finally:
        if unset:
            os.environ.pop("TENSORBOARD_BINARY", None)


VERB = Verb(
    "tensorboard",
    "write TensorBoard event files of a version (the magic also opens TensorBoard)",
    doc=__doc__,
    run=run,
    faces=("magic", "cli"),
    params=[
        Param("ref", Ref(), positional=True, help="registry reference or local deployment, e.g. churn@production"),
        Param("logdir", Path(), help="folder of the event files (default: MODELOPS_HOME/tensorboard/<model>)"),
        Param("since", Text(), default="30d", help="monitoring period, a duration before now such as 24h or 30d"),
        Param("every", Text(), default="1h", help="monitoring window, such as 15m or 1h"),
        Param("store", Text(), help="capture store (default: the deployment's or MODELOPS_HOME's)"),
        Param("no_open", Flag(), faces=("magic",), help="write the files without opening TensorBoard"),
    ],
)
