"""``predict(deployment_or_url, X)``: a small Open Inference Protocol (V2 REST) client.

Works against any V2 server (this one, KServe, Triton, MLServer). It reads the
model's metadata once to shape ``X`` (a DataFrame, an array or a list of rows)
into the model's input tensors, sends JSON (or binary tensors with
``binary=True``), and returns the named outputs as numpy arrays. A floating-point
input holding NaN or infinite values (rows with missing values) is always sent
as a binary tensor, which carries them exactly, since JSON has no such numbers.
With ``token=...`` every request carries ``Authorization: Bearer TOKEN``;
``https://`` URLs verify the server's certificate (``verify`` may name a CA file).
"""

from __future__ import annotations

import http.client
import json
import struct
import time
from typing import Any
from urllib.parse import urlsplit

from .. import tracing
from .._html import Result, fmt, page, table
from ..exceptions import DeployError, ModelNotFoundError, ModelOpsError, ValidationError

_V2_NP = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
    "BYTES": "object",
}


def _as_bytes(x: Any) -> bytes:
    """One element of a BYTES tensor; a missing value (None, NaN, pandas NA) travels as ``b""``.

    A string tensor holds no NaN, so an exported pipeline's imputer looks for ``""``; ``str(nan)``
    would reach it as the category ``"nan"`` instead.
    """
    if isinstance(x, bytes):
        return x
    if x is None or (isinstance(x, float) and x != x) or type(x).__name__ in ("NAType", "NaTType"):
        return b""
    return str(x).encode()


class Prediction(Result):
    """The answer of a V2 server: named output arrays plus where they came from.

    ``prediction["label"]`` (or any output name) gives one array.
    """

    def __init__(
        self, outputs: dict, *, model_name: str, model_version: str | None, url: str, latency_ms: float
    ) -> None:
        self.outputs = outputs
        self.model_name = model_name
        self.model_version = model_version
        self.url = url
        self.latency_ms = latency_ms

    def __getitem__(self, name: str) -> Any:
        try:
            return self.outputs[name]
        except KeyError:
            raise KeyError(f"No output named {name!r}; the outputs are {', '.join(self.outputs)}.") from None

    def __iter__(self):
        return iter(self.outputs)

    def keys(self):
        return self.outputs.keys()

    def to_dict(self) -> dict:
        return {
            "model_name": self.model_name,
            "model_version": self.model_version,
            "url": self.url,
            "latency_ms": round(self.latency_ms, 3),
            "outputs": {k: v.tolist() for k, v in self.outputs.items()},
        }

    def _summary(self) -> str:
        shapes = ", ".join(f"{k} {list(v.shape)}" for k, v in self.outputs.items())
        return f"Prediction from {self.model_name}:{self.model_version} ({shapes}) in {self.latency_ms:.1f} ms"

    def to_text(self) -> str:
        lines = [self._summary()]
        for k, v in self.outputs.items():
            flat = v.reshape(len(v), -1) if v.ndim > 1 else v.reshape(-1, 1)
            head = "; ".join(", ".join(fmt(x) for x in row) for row in flat[:5].tolist())
            lines.append(f"  {k}: {head}{' ...' if len(v) > 5 else ''}")
        return "\n".join(lines)

    def to_html(self) -> str:
        names = list(self.outputs)
        n = min(20, min((len(v) for v in self.outputs.values()), default=0))
        rows = []
        for i in range(n):
            rows.append(
                [i]
                + [
                    ", ".join(
                        fmt(x)
                        for x in (
                            self.outputs[k][i].ravel().tolist()
                            if hasattr(self.outputs[k][i], "ravel")
                            else [self.outputs[k][i]]
                        )
                    )
                    for k in names
                ]
            )
        return page(
            f"Prediction from {self.model_name}:{self.model_version}",
            table(rows, ["row", *names]),
            subtitle=f"{self.url}, {self.latency_ms:.1f} ms",
        )


def _target(deployment_or_url: Any, model: str | None) -> tuple[str, str, int, str | None, str | None]:
    """``(scheme, host, port, model, token file of a local deployment or None)``."""
    url = getattr(deployment_or_url, "url", None)
    token_file = None
    if url is not None:
        token_file = (getattr(deployment_or_url, "state", None) or {}).get("token_file")
        if model is None:
            model = getattr(deployment_or_url, "model", None)
    if url is None:
        if not isinstance(deployment_or_url, str):
            raise ValidationError(
                "deployment_or_url must be a LocalDeployment, a deployment name or a URL such "
                f"as 'http://127.0.0.1:8080'; got {type(deployment_or_url).__name__}."
            )
        url = deployment_or_url
        if "://" not in url:  # a local deployment's name
            from .local import get_deployment

            dep = get_deployment(url)
            url, model = dep.url, model or dep.model
            token_file = dep.state.get("token_file")
    u = urlsplit(url)
    if u.scheme not in ("http", "https") or not u.hostname:
        raise ValidationError(f"The URL {url!r} is not an http:// or https:// URL of a V2 server.")
    path = u.path.rstrip("/")
    if model is None and "/v2/models/" in path:
        model = path.split("/v2/models/", 1)[1].split("/", 1)[0]
    return u.scheme, u.hostname, u.port or (443 if u.scheme == "https" else 80), model, token_file


def _read_token(path: str) -> str:
    """The first token of a token file (the format the server reads)."""
    try:
        with open(path, encoding="ascii", errors="replace") as fh:
            for line in fh:
                line = line.strip()
                if line and not line.startswith("#"):
                    return line
    except OSError as exc:
        raise ValidationError(
            f"The token file {path} cannot be read ({exc.strerror}); give a readable file "
            "with the server's bearer token."
        ) from None
    raise ValidationError(f"The token file {path} holds no token; write the server's bearer token in it.")


class _Conn:
    def __init__(
        self,
        host: str,
        port: int,
        timeout: float,
        *,
        scheme: str = "http",
        token: str | None = None,
        verify: bool | str = True,
    ) -> None:
        self.base = f"{scheme}://{host}:{port}"
        if scheme == "https":
            import ssl

            ctx = ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)
            if verify is False:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
            self.c = http.client.HTTPSConnection(host, port, timeout=timeout, context=ctx)
        else:
            self.c = http.client.HTTPConnection(host, port, timeout=timeout)
        self.auth = {"Authorization": f"Bearer {token}"} if token else {}

    def call(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None):
        try:
            self.c.request(method, path, body=body, headers={**(headers or {}), **self.auth})
            r = self.c.getresponse()
            return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
        except (OSError, http.client.HTTPException) as exc:
            raise DeployError(
                f"Could not reach the model server at {self.base}: {exc}.",
                hint="Check that the deployment runs (status()) and the URL.",
            ) from exc

    def close(self) -> None:
        self.c.close()


def _raise_for(status: int, body: bytes, what: str) -> None:
    if status == 200:
        return
    try:
        msg = json.loads(body).get("error", "")
    except Exception:  # noqa: BLE001
        msg = body[:200].decode(errors="replace")
    text = f"The model server refused the {what} (HTTP {status}): {msg}"
    if status == 401:
        raise ValidationError(text, hint="Pass token=... (the server's bearer token).")
    if status == 404:
        raise ModelNotFoundError(text)
    if status in (400, 413, 422):
        raise ValidationError(text)
    raise DeployError(text)


def _as_tensors(X: Any, inputs: list[dict]) -> list[tuple[dict, Any]]:
    import numpy as np

    if hasattr(X, "columns") and len(inputs) > 1:  # a table with one input per column
        out = []
        for spec in inputs:
            if spec["name"] not in X.columns:
                raise ValidationError(f"X has no column {spec['name']!r}, which the model needs.")
            arr = X[spec["name"]].to_numpy()
            out.append((spec, arr.reshape(-1, *[d for d in spec.get("shape", [-1])[1:]]) if arr.ndim == 1 else arr))
        return out
    if len(inputs) != 1:
        raise ValidationError(
            f"The model takes {len(inputs)} inputs; pass X as a DataFrame with those columns "
            f"({', '.join(i['name'] for i in inputs)})."
        )
    arr = X.to_numpy() if hasattr(X, "to_numpy") else np.asarray(X)
    spec = inputs[0]
    shape = spec.get("shape") or []
    if len(shape) == 2 and arr.ndim == 1:
        arr = arr.reshape(1, -1)
    return [(spec, arr)]


def _rows(tensors: list) -> int | None:
    """Rows of the first input tensor (for the client span)."""
    shape = getattr(tensors[0][1], "shape", None) if tensors else None
    return int(shape[0]) if shape else None


def predict(
    deployment_or_url: Any,
    X: Any,
    *,
    model: str | None = None,
    outputs: list[str] | None = None,
    binary: bool = False,
    timeout: float = 30.0,
    token: str | None = None,
    token_file: str | None = None,
    verify: bool | str = True,
) -> Prediction:
    """Ask a V2 model server for predictions.

    Parameters
    ----------
    deployment_or_url : LocalDeployment, str
        A deployment, the name of a local deployment, or a server URL
        (``http://127.0.0.1:8080`` or ``.../v2/models/NAME``).
    X : DataFrame, array-like
        Rows to predict; shaped to the model's input signature.
    model : str, optional
        Model name, when the server serves several.
    outputs : list of str, optional
        Only these outputs.
    binary : bool, default=False
        Use the binary tensor extension for inputs and outputs. Inputs with NaN
        or infinite values are sent as binary tensors in any case.
    timeout : float, default=30
        Seconds.
    token : str, optional
        Bearer token for a server started with a token file (sent as
        ``Authorization: Bearer TOKEN``). A local deployment's own token is used
        when none is given.
    token_file : str, optional
        Read the token from this file instead (its first token), so that it
        appears neither in code nor on a command line.
    verify : bool or str, default=True
        For ``https://``: verify the server's certificate against the system's
        CAs, or against this CA/certificate file; ``False`` skips the check.

    Returns
    -------
    Prediction
        ``prediction[name]`` is one output as a numpy array.
    """
    import numpy as np

    scheme, host, port, model, own_token_file = _target(deployment_or_url, model)
    token_file = token_file or (own_token_file if token is None else None)
    if token is not None and (not isinstance(token, str) or not token.strip() or any(c in token for c in "\r\n")):
        raise ValidationError("token must be the server's bearer token as one line of text.")
    if token is not None and token_file is not None:
        raise ValidationError("Give token or token_file, not both.")
    if token is None and token_file:
        token = _read_token(token_file)
    conn = _Conn(host, port, timeout, scheme=scheme, token=token, verify=verify)
    try:
        if model is None:
            status, _, body = conn.call("POST", "/v2/repository/index", b"{}")
            _raise_for(status, body, "model list request")
            names = [m["name"] for m in json.loads(body)]
            if len(names) != 1:
                raise ValidationError(
                    f"The server at {conn.base} serves {len(names)} models ({', '.join(names)}); pass model=NAME."
                )
            model = names[0]
        status, _, body = conn.call("GET", f"/v2/models/{model}")
        _raise_for(status, body, "metadata request")
        meta = json.loads(body)
        names = (meta.get("parameters") or {}).get("feature_names")
        if names and hasattr(X, "columns") and len(meta.get("inputs") or []) == 1:
            missing = [c for c in names if c not in X.columns]
            if missing:
                raise ValidationError(
                    f"X lacks the column(s) {', '.join(map(repr, missing[:5]))} that model '{model}' was trained on."
                )
            X = X[names]  # the model's column order
        tensors = _as_tensors(X, meta.get("inputs") or [])
        doc: dict[str, Any] = {"inputs": []}
        blobs = []
        for spec, arr in tensors:
            dt = spec.get("datatype", "FP64")
            if dt == "BYTES":
                vals = [_as_bytes(x) for x in np.asarray(arr, dtype=object).ravel()]
                entry = {"name": spec["name"], "datatype": dt, "shape": list(np.shape(arr))}
                if binary:
                    raw = b"".join(struct.pack("<I", len(v)) + v for v in vals)
                    entry["parameters"] = {"binary_data_size": len(raw)}
                    blobs.append(raw)
                else:
                    entry["data"] = [v.decode() for v in vals]
            else:
                a = np.ascontiguousarray(arr, dtype=_V2_NP[dt])
                entry = {"name": spec["name"], "datatype": dt, "shape": list(a.shape)}
                if binary or (a.dtype.kind == "f" and not np.isfinite(a).all()):  # JSON has no NaN: binary
                    raw = a.tobytes()
                    entry["parameters"] = {"binary_data_size": len(raw)}
                    blobs.append(raw)
                else:
                    entry["data"] = a.ravel().tolist()
            doc["inputs"].append(entry)
        if outputs is not None or binary:
            names = outputs or [o["name"] for o in meta.get("outputs") or []]
            doc["outputs"] = [{"name": n, "parameters": {"binary_data": binary}} for n in names]
        head = json.dumps(doc).encode()
        headers = {"Content-Type": "application/json"}
        if blobs:
            headers = {"Content-Type": "application/octet-stream", "Inference-Header-Content-Length": str(len(head))}
        t0 = time.perf_counter()
        with tracing.span(
            "modelops.predict",
            {"modelops.model": model, "modelops.rows": _rows(tensors), "server.address": host, "server.port": port},
            kind="client",
        ):
            tracing.inject(headers)  # W3C traceparent: the server's span becomes this one's child
            status, rh, body = conn.call("POST", f"/v2/models/{model}/infer", head + b"".join(blobs), headers)
        latency = (time.perf_counter() - t0) * 1000
        _raise_for(status, body, "inference request")
    finally:
        conn.close()
    hl = rh.get("inference-header-content-length")
    raw = b""
    if hl is not None:
        raw = body[int(hl) :]
        body = body[: int(hl)]
    resp = json.loads(body)
    result = {}
    pos = 0
    for o in resp.get("outputs", []):
        dt, shape = o["datatype"], o["shape"]
        size = (o.get("parameters") or {}).get("binary_data_size")
        if size is not None:
            chunk = raw[pos : pos + size]
            pos += size
            if dt == "BYTES":
                vals, i = [], 0
                while i < len(chunk):
                    (n,) = struct.unpack_from("<I", chunk, i)
                    vals.append(chunk[i + 4 : i + 4 + n].decode(errors="replace"))
                    i += 4 + n
                arr = np.array(vals, dtype=object)
            else:
                arr = np.frombuffer(chunk, dtype=_V2_NP[dt])
        else:
            arr = np.array(o.get("data", []), dtype=_V2_NP[dt] if dt != "BYTES" else object)
        result[o["name"]] = arr.reshape(shape)
    return Prediction(
        result,
        model_name=resp.get("model_name", model),
        model_version=resp.get("model_version"),
        url=f"{conn.base}/v2/models/{model}",
        latency_ms=latency,
    )


__all__ = ["predict", "Prediction", "ModelOpsError"]
