"""predict-batch in a real IPython shell and on the command line, both read from the one declaration."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from IPython.core.error import UsageError


@pytest.fixture(scope="module")
def ip():
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    c = Config()
    c.HistoryAccessor.enabled = False
    shell = InteractiveShell.instance(config=c)
    shell.run_line_magic("load_ext", "jupyter_modelops")
    return shell


def test_magic_scores_and_resumes(ip, version, source, tmp_path):
    src, df = source
    res = ip.run_line_magic(
        "modelops",
        f"predict-batch {version} {src} {tmp_path / 'out'} --partition-rows 1500 --id-columns customer_id -o scored",
    )
    assert ip.user_ns["scored"] is res and (res.scored, res.rows_scored) == (5, 5000)
    fmt, _ = ip.display_formatter.format(res)
    assert "churn:1" in fmt["text/html"] and "rows_scored" in fmt["text/html"]
    assert len(pd.read_parquet(tmp_path / "out")) == len(df)
    again = ip.run_line_magic("modelops", f"predict-batch {version} {src} {tmp_path / 'out'} --partition-rows 1500")
    assert (again.scored, again.skipped) == (0, 5)
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("modelops", f"predict-batch {version} {tmp_path / 'none'} {tmp_path / 'o2'}")
    assert "does not exist" in str(info.value) and "\n" not in str(info.value)


def test_cli_json_exit_codes_and_kubernetes_dry_run(version, source, tmp_path, capsys):
    from jupyter_modelops.cli import main

    src, _ = source
    assert main(["predict-batch", version, str(src), str(tmp_path / "out"), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["rows_scored"] == 5000 and out["runtime"] == "onnxruntime" and out["partitions"] == 2
    image = "registry.example/churn@sha256:" + "b" * 64
    assert (
        main(
            [
                "predict-batch",
                version,
                str(src),
                str(tmp_path / "k"),
                "--engine",
                "kubernetes",
                "--image",
                image,
                "--dry-run",
                "--json",
            ]
        )
        == 0
    )
    k = json.loads(capsys.readouterr().out)
    assert k["dry_run"] is True and k["manifests"][1]["spec"]["completionMode"] == "Indexed"
    assert main(["predict-batch", version, str(tmp_path / "none"), str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err and "Traceback" not in err
