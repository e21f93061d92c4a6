"""The ``%modelops deploy`` form: pick a model version, cluster, profile, replicas and canary, press Deploy."""

from __future__ import annotations

from typing import Any


def version_choices() -> list[str]:
    from .. import registry

    refs: list[str] = []
    for name in registry.models().names():
        refs += [r["ref"] for r in registry.versions(name)]
    return refs


def deploy_form() -> Any:
    """An ipywidgets form that calls :func:`jupyter_modelops.deploy.deploy` with its values."""
    from .._optional import require

    w = require("ipywidgets", purpose="show the deploy form")
    from ..deploy import clusters, deploy, profiles
    from ..exceptions import ModelOpsError

    try:
        cluster_names = clusters().names
    except ModelOpsError:
        cluster_names = []
    refs = version_choices()
    style = {"description_width": "90px"}
    model = w.Dropdown(options=refs, description="model", style=style)
    cluster = w.Dropdown(options=cluster_names + ["local"], description="cluster", style=style)
    profile = w.Dropdown(options=profiles().names, value="cpu-small", description="profile", style=style)
    namespace = w.Text(value="default", description="namespace", style=style)
    image = w.Text(value="", placeholder="registry/repo@sha256:... (default: the recorded image)",
                   description="image", style=style)
    replicas = w.BoundedIntText(value=0, min=0, max=1000, description="replicas", style=style,
                                tooltip="0 = the profile's default")
    canary = w.IntSlider(value=0, min=0, max=99, description="canary %", style=style)
    dry_run = w.Checkbox(value=False, description="dry run (show the YAML only)")
    button = w.Button(description="Deploy", button_style="primary", icon="rocket")
    out = w.Output()
    form = w.VBox([w.HTML("<b>Deploy a model version</b>" + ("" if refs else
                                                             " &mdash; the registry has no model versions yet")),
                   model, cluster, profile, namespace, image, replicas, canary, dry_run, button, out])
    form.result = None
    form.error = None

    def on_click(_: Any) -> None:
        out.clear_output()
        form.result, form.error = None, None
        with out:
            try:
                form.result = deploy(model.value, cluster=cluster.value, profile=profile.value,
                                     namespace=namespace.value or "default", image=image.value or None,
                                     replicas=replicas.value or None, canary=canary.value or None,
                                     dry_run=dry_run.value)
            except ModelOpsError as exc:
                form.error = str(exc)
                print(f"Deploy failed: {exc}")
                return
            from IPython.display import display

            display(form.result)

    button.on_click(on_click)
    form.widgets = {"model": model, "cluster": cluster, "profile": profile, "namespace": namespace,
                    "image": image, "replicas": replicas, "canary": canary, "dry_run": dry_run,
                    "button": button, "output": out}
    return form
