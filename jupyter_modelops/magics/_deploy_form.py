"""The ``%modelops deploy`` form: pick a model version, cluster, profile, replicas and canary, press Deploy."""

from __future__ import annotations

from typing import Any


def version_choices() -> list[str]:
    from .. import registry

    refs: list[str] = []
    for name in registry.models().names():
        refs += [r["ref"] for r in registry.versions(name)]
    return refs


def deploy_form(
    *,
    cluster: str | None = None,
    profile: str | None = None,
    namespace: str | None = None,
    image: str | None = None,
    replicas: int | None = None,
    canary: int | None = None,
    kubeconfig: str | None = None,
) -> Any:
    """An ipywidgets form that calls :func:`jupyter_modelops.deployment.deploy` with its values
    (the arguments pre-fill it; the defaults and help are those of the ``deploy`` verb's declaration)."""
    from .._optional import require

    w = require("ipywidgets", purpose="show the deploy form")
    from .. import verbs
    from ..deployment import clusters, deploy, profiles
    from ..exceptions import ModelOpsError

    declared = {p.name: p for p in verbs.get("deploy").params}
    profile = profile or declared["profile"].default
    namespace = namespace or declared["namespace"].default

    try:
        cluster_names = clusters(kubeconfig=kubeconfig).names
    except ModelOpsError:
        cluster_names = []
    refs = version_choices()
    style = {"description_width": "90px"}
    model = w.Dropdown(options=refs, description="model", style=style)
    choices = cluster_names + ["local"]
    cluster_w = w.Dropdown(
        options=choices, value=cluster if cluster in choices else choices[0], description="cluster", style=style
    )
    names = profiles().names
    profile_w = w.Dropdown(
        options=names,
        value=profile if profile in names else declared["profile"].default,
        description="profile",
        style=style,
    )
    namespace_w = w.Text(value=namespace, description="namespace", style=style)
    image_w = w.Text(
        value=image or "",
        placeholder="registry/repo@sha256:... (default: the recorded image)",
        description="image",
        style=style,
    )
    replicas_w = w.BoundedIntText(
        value=replicas or 0, min=0, max=1000, description="replicas", style=style, tooltip="0 = the profile's default"
    )
    canary_w = w.IntSlider(value=canary or 0, min=0, max=99, description="canary %", style=style)
    dry_run = w.Checkbox(value=False, description="dry run (show the YAML only)")
    button = w.Button(description="Deploy", button_style="primary", icon="rocket")
    out = w.Output()
    form = w.VBox(
        [
            w.HTML(
                "<b>Deploy a model version</b>" + ("" if refs else " &mdash; the registry has no model versions yet")
            ),
            model,
            cluster_w,
            profile_w,
            namespace_w,
            image_w,
            replicas_w,
            canary_w,
            dry_run,
            button,
            out,
        ]
    )
    form.result = None
    form.error = None

    def on_click(_: Any) -> None:
        out.clear_output()
        form.result, form.error = None, None
        with out:
            try:
                form.result = deploy(
                    model.value,
                    cluster=cluster_w.value,
                    profile=profile_w.value,
                    namespace=namespace_w.value or declared["namespace"].default,
                    image=image_w.value or None,
                    replicas=replicas_w.value or None,
                    canary=canary_w.value or None,
                    dry_run=dry_run.value,
                    kubeconfig=kubeconfig if cluster_w.value != "local" else None,
                )
            except ModelOpsError as exc:
                form.error = str(exc)
                print(f"Deploy failed: {exc}")
                return
            from IPython.display import display

            display(form.result)

    button.on_click(on_click)
    form.widgets = {
        "model": model,
        "cluster": cluster_w,
        "profile": profile_w,
        "namespace": namespace_w,
        "image": image_w,
        "replicas": replicas_w,
        "canary": canary_w,
        "dry_run": dry_run,
        "button": button,
        "output": out,
    }
    return form
