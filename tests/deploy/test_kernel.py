"""The deploy form in a real Jupyter kernel (ipykernel through nbclient): the cell's output is a widget."""

from __future__ import annotations

import os


def test_the_deploy_form_renders_as_a_widget_in_a_real_kernel(tmp_path, refs):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext jupyter_modelops"),
        nbformat.v4.new_code_cell("%modelops deploy -o form"),
        nbformat.v4.new_code_cell(
            "print(sorted(form.widgets['model'].options), 'gpu-t4' in form.widgets['profile'].options)"
        ),
    ]
    env_home = os.environ["MODELOPS_HOME"]  # the kernel inherits the test's MODELOPS_HOME (two versions)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = nb.cells[1].outputs
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs), outputs
    text = "".join(o.get("text", "") for o in nb.cells[2].outputs)
    assert text.strip() == f"{sorted(refs)} True", (text, env_home)
