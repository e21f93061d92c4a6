"""REST handlers of the server extension, under ``{base_url}/jupyter-modelops/api/``.

Every handler is a thin face over the core API: it parses the request, calls
ONE core function (off the event loop), and serializes ``to_dict()``. Where a
handler runs a verb, its parameters go through the verb's declaration in
:mod:`jupyter_modelops.verbs` (checked and converted by kind), and
``GET verbs[/NAME]`` serves the declarations as JSON schemas. A
:class:`~jupyter_modelops.exceptions.ModelOpsError` becomes its
``http_status`` with the same one-sentence message the magics and the CLI
show: ``{"error": "ValidationError", "message": "...", "status": 400}``.

Every verb is ``@tornado.web.authenticated``; POST/PUT/DELETE go through
jupyter_server's XSRF check (the panel sends the ``_xsrf`` cookie header, as
all of JupyterLab does).
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from typing import Any, Awaitable, Callable

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from .. import __version__
from ..exceptions import ModelNotFoundError, ModelOpsError, ValidationError
from .actions import ACTIONS, resolve, start_job
from .jobs import JobRunner
from .serialize import to_payload

NAMESPACE = "jupyter-modelops"
SETTINGS_KEY = "jupyter_modelops_jobs"
log = logging.getLogger("jupyter_modelops.server")


def api(method: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
    """Map core errors to HTTP replies; unexpected errors to a 500 with one sentence."""

    @functools.wraps(method)
    async def wrapper(self: "ModelOpsHandler", *args: Any, **kwargs: Any) -> None:
        try:
            await method(self, *args, **kwargs)
        except ModelOpsError as exc:
            self.set_status(exc.http_status if 100 <= exc.http_status < 600 else 500)
            self.finish(json.dumps(exc.to_dict()))
        except tornado.web.HTTPError:
            raise
        except Exception as exc:  # a bug: log the trace server-side, one sentence to the client
            log.exception("%s %s failed", self.request.method, self.request.path)
            self.set_status(500)
            self.finish(json.dumps({"error": type(exc).__name__, "message": f"Unexpected error: {exc}", "status": 500}))

    return wrapper


class ModelOpsHandler(APIHandler):
    """Base handler: run a core call off the event loop and reply with its ``to_dict()``."""

    @property
    def jobs(self) -> JobRunner:
        return self.settings[SETTINGS_KEY]

    async def core(self, target: str, *args: Any, **kwargs: Any) -> Any:
        fn = resolve(target)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(fn, *args, **kwargs))

    async def verb(self, name: str, /, **given: Any) -> Any:
        """Run a verb off the event loop with ``given`` (path parts) and its query arguments, by its declaration."""
        from .. import verbs

        decl = verbs.get(name)
        params = {p.name: self.arg(p.name) for p in decl.params_on("rest") if self.arg(p.name) is not None}
        values = decl.from_json({**params, **given}, what="request")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(None, functools.partial(decl.call, verbs.Face("rest", quiet=True), values))

    def reply(self, obj: Any, status: int = 200) -> None:
        self.set_status(status)
        self.finish(json.dumps(to_payload(obj)))

    def arg(self, name: str, default: Any = None) -> Any:
        value = self.get_query_argument(name, None)
        return default if value in (None, "") else value

    def body(self) -> dict:
        if not self.request.body:
            return {}
        try:
            data = json.loads(self.request.body.decode("utf-8"))
        except ValueError as exc:
            raise ValidationError(
                f"The request body is not valid JSON ({exc}).",
                hint='Send a JSON object, e.g. {"action": "export", "params": {...}}.',
            ) from exc
        if not isinstance(data, dict):
            raise ValidationError(f"The request body must be a JSON object, got {type(data).__name__}.")
        return data


# --------------------------------------------------------------------------- about


class InfoHandler(ModelOpsHandler):
    """``GET info``: package version and the actions this installation can run."""

    @tornado.web.authenticated
    @api
    async def get(self) -> None:
        self.reply({"version": __version__, "actions": ACTIONS.describe()})


class RevisionHandler(ModelOpsHandler):
    """``GET revision``: a cheap token that changes whenever the registry changes (the panel polls it)."""

    @tornado.web.authenticated
    @api
    async def get(self) -> None:
        self.reply({"revision": await self.core("server.revision:registry_revision")})


# --------------------------------------------------------------------------- registry


class ModelsHandler(ModelOpsHandler):
    """``GET models``: every model with its latest version, aliases and badges."""

    @tornado.web.authenticated
    @api
    async def get(self) -> None:
        self.reply(await self.verb("models"))


class VersionsHandler(ModelOpsHandler):
    """``GET models/{name}``: the versions of one model."""

    @tornado.web.authenticated
    @api
    async def get(self, name: str) -> None:
        self.reply(await self.verb("versions", name=name))


class VersionHandler(ModelOpsHandler):
    """``GET models/{name}/{version}``: one version (metrics, signature, environment, lineage)."""

    @tornado.web.authenticated
    @api
    async def get(self, name: str, version: str) -> None:
        self.reply(await self.core("registry:get", f"{name}:{version}"))


class DiffHandler(ModelOpsHandler):
    """``GET diff?a=REF&b=REF``: what changed between two versions."""

    @tornado.web.authenticated
    @api
    async def get(self) -> None:
        self.reply(await self.verb("diff"))


class AliasHandler(ModelOpsHandler):
    """``PUT aliases/{name}/{alias}`` with ``{"version": N}`` points an alias at a version."""

    @tornado.web.authenticated
    @api
    async def put(self, name: str, alias: str) -> None:
        version = self.body().get("version")
        if version is None:
            raise ValidationError("The body needs a 'version', e.g. {\"version\": 3}.")
        self.reply(await self.verb("alias", ref=f"{name}:{version}", alias=alias))


class RecordsHandler(ModelOpsHandler):
    """``GET records?ref=REF&kind=KIND``: history other areas kept (exports, images, deployments, reports)."""

    @tornado.web.authenticated
    @api
    async def get(self) -> None:
        self.reply(await self.core("registry:records", self.arg("ref"), kind=self.arg("kind")))


# --------------------------------------------------------------------------- deploy


class ProfilesHandler(ModelOpsHandler):
    """``GET profiles``: hardware profiles for the deploy form."""

    @tornado.web.authenticated
    @api
    async def get(self) -> None:
        self.reply(await self.verb("profiles"))


class ClustersHandler(ModelOpsHandler):
    """``GET clusters``: deploy targets (``local`` and kubeconfig contexts)."""

    @tornado.web.authenticated
    @api
    async def get(self) -> None:
        self.reply(await self.verb("clusters"))


class DeploymentsHandler(ModelOpsHandler):
    """``GET deployments``: every deployment with its status."""

    @tornado.web.authenticated
    @api
    async def get(self) -> None:
        self.reply(await self.verb("deployments"))


class DeploymentHandler(ModelOpsHandler):
    """``GET deployments/{name}``: the live status of one deployment."""

    @tornado.web.authenticated
    @api
    async def get(self, name: str) -> None:
        self.reply(await self.verb("status", name=name))


# --------------------------------------------------------------------------- reports


class LocalDeploymentsHandler(ModelOpsHandler):
    """``GET local-deployments``: model servers running on this machine (``target="local"``)."""

    @tornado.web.authenticated
    @api
    async def get(self) -> None:
        self.reply(await self.core("serving.local:deployments"))


class ReportsHandler(ModelOpsHandler):
    """``GET reports?name=MODEL``: the report history of a model (monitoring trend, HTML links)."""

    @tornado.web.authenticated
    @api
    async def get(self) -> None:
        self.reply(await self.verb("history"))


class ReportHtmlHandler(ModelOpsHandler):
    """``GET report-html?path=...``: the HTML of a report run, so the panel can open it in a tab.

    Only ``.html`` files under ``MODELOPS_HOME`` (where report runs are written) are served.
    """

    @property
    def content_security_policy(self) -> str:  # static report HTML: inline styles and SVG, no scripts
        return "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'"

    @tornado.web.authenticated
    @api
    async def get(self) -> None:
        from pathlib import Path

        from ..config import home

        raw = self.arg("path")
        if not raw:
            raise ValidationError("The query argument 'path' (a report's HTML file) is required.")
        path = Path(raw).resolve()
        root = home().resolve()
        if path.suffix.lower() != ".html" or root not in path.parents:
            raise ValidationError(
                f"'{raw}' is not a report HTML file under MODELOPS_HOME ({root}).",
                hint="Open report links from the panel or from report_history().",
            )
        if not path.is_file():
            raise ModelNotFoundError(f"The report file '{raw}' does not exist (any more).")
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.finish(path.read_bytes(), set_content_type="text/html; charset=utf-8")


class SchedulesHandler(ModelOpsHandler):
    """``GET schedules``: scheduled reports."""

    @tornado.web.authenticated
    @api
    async def get(self) -> None:
        self.reply(await self.verb("schedules"))


class ReportParamsHandler(ModelOpsHandler):
    """``GET report-params?template=NAME``: the parameters a report template declares (the report form's fields)."""

    @tornado.web.authenticated
    @api
    async def get(self) -> None:
        template = self.arg("template", "monitoring")
        if "/" in template or "\\" in template or template.endswith(".ipynb"):
            raise ValidationError(
                f"'{template}' is not a built-in report template name.",
                hint="Ask for monitoring, drift or evaluation; a notebook path is not read here.",
            )
        path = await self.core("reports.run:resolve_template", template)
        declared = await self.core("reports.params:declared", path)
        self.reply({"template": template, "params": list(declared.values())})


class CronHandler(ModelOpsHandler):
    """``GET cron?expression=...``: validate a cron line and describe it in words."""

    @tornado.web.authenticated
    @api
    async def get(self) -> None:
        expression = self.get_query_argument("expression", "")
        self.reply({"expression": expression, "description": await self.core("reports.cron:describe", expression)})


# --------------------------------------------------------------------------- verbs


class VerbsHandler(ModelOpsHandler):
    """``GET verbs``: the JSON schema of every verb (parameters, kinds, help, defaults, choices, faces)."""

    @tornado.web.authenticated
    @api
    async def get(self) -> None:
        from .. import verbs

        self.reply([v.schema() for v in verbs.all_verbs().values()])


class VerbHandler(ModelOpsHandler):
    """``GET verbs/{verb}``: the JSON schema of one verb (the panel builds its form from it)."""

    @tornado.web.authenticated
    @api
    async def get(self, name: str) -> None:
        from .. import verbs
        from ..exceptions import suggest

        if name not in verbs.names():
            raise ModelNotFoundError(
                f"There is no verb '{name}'.{suggest(name, verbs.names())}", hint="GET verbs lists them."
            )
        self.reply(verbs.all_verbs()[name].schema())


# --------------------------------------------------------------------------- jobs


class JobsHandler(ModelOpsHandler):
    """``POST jobs`` with ``{"action": ..., "params": {...}}`` starts a job (202 + the job);
    ``GET jobs`` lists recent jobs, newest first."""

    @tornado.web.authenticated
    @api
    async def get(self) -> None:
        self.reply([job.to_dict() for job in self.jobs.list()])

    @tornado.web.authenticated
    @api
    async def post(self) -> None:
        data = self.body()
        job = start_job(self.jobs, data.get("action"), data.get("params"))
        self.set_header("Location", url_path_join(self.base_url, NAMESPACE, "api", "jobs", job.id))
        self.reply(job, status=202)


class JobHandler(ModelOpsHandler):
    """``GET jobs/{id}``: status, progress, logs, result or error of one job."""

    @tornado.web.authenticated
    @api
    async def get(self, job_id: str) -> None:
        self.reply(self.jobs.get(job_id))


class ActionHandler(ModelOpsHandler):
    """``POST actions/{action}`` with the params as body: same as ``POST jobs``."""

    @tornado.web.authenticated
    @api
    async def post(self, action: str) -> None:
        job = start_job(self.jobs, action, self.body())
        self.set_header("Location", url_path_join(self.base_url, NAMESPACE, "api", "jobs", job.id))
        self.reply(job, status=202)


_SEG = r"([^/]+)"

#: (path below ``{base_url}/jupyter-modelops/api/``, handler). Tests enumerate this table.
ROUTES: list[tuple[str, type[ModelOpsHandler]]] = [
    ("info", InfoHandler),
    ("revision", RevisionHandler),
    ("models", ModelsHandler),
    (f"models/{_SEG}", VersionsHandler),
    (f"models/{_SEG}/{_SEG}", VersionHandler),
    ("diff", DiffHandler),
    (f"aliases/{_SEG}/{_SEG}", AliasHandler),
    ("records", RecordsHandler),
    ("profiles", ProfilesHandler),
    ("clusters", ClustersHandler),
    ("deployments", DeploymentsHandler),
    (f"deployments/{_SEG}", DeploymentHandler),
    ("local-deployments", LocalDeploymentsHandler),
    ("reports", ReportsHandler),
    ("report-html", ReportHtmlHandler),
    ("schedules", SchedulesHandler),
    ("report-params", ReportParamsHandler),
    ("cron", CronHandler),
    ("verbs", VerbsHandler),
    (f"verbs/{_SEG}", VerbHandler),
    ("jobs", JobsHandler),
    (f"jobs/{_SEG}", JobHandler),
    (f"actions/{_SEG}", ActionHandler),
]


def setup_handlers(web_app: tornado.web.Application) -> None:
    """Register the routes and the job runner on a jupyter_server web application."""
    web_app.settings.setdefault(SETTINGS_KEY, JobRunner())
    base_url = web_app.settings.get("base_url", "/")
    web_app.add_handlers(
        ".*$",
        [(url_path_join(base_url, NAMESPACE, "api", path) + "/?", handler) for path, handler in ROUTES],
    )


def handler_verbs(handler: type[ModelOpsHandler]) -> list[str]:
    """The HTTP verbs a handler implements (the authentication test sends each one)."""
    own = [cls for cls in handler.__mro__ if issubclass(cls, ModelOpsHandler)]
    return [v for v in ("get", "post", "put", "delete", "patch") if any(v in cls.__dict__ for cls in own)]
