"""Open Inference Protocol (KServe V2) tensors: decode requests, encode responses.

Both the JSON form and the binary tensor extension are read: when the
``Inference-Header-Content-Length`` header is present, the body starts with
that many bytes of JSON and the raw tensor bytes follow, in input order, for
each input whose parameters give ``binary_data_size``. The Content-Type header
is not needed (clients such as ``tritonclient`` send none in JSON mode).

JSON has no NaN or infinities, but some clients write them as the tokens
``NaN``, ``Infinity`` and ``-Infinity`` (Python's ``json`` module does by
default): a body with those tokens is read too, and they are accepted in
floating-point inputs only (an integer or boolean input holding one gets 400).
The binary tensor extension carries them exactly and is the form to prefer.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import orjson

from .errors import InvalidInput
from .modeldir import V2_TO_NUMPY, TensorSpec

_NP = {k: np.dtype(v) for k, v in V2_TO_NUMPY.items()}
# kind letters of numpy dtypes each V2 datatype family accepts in JSON data
_FLOATS = {"FP16", "FP32", "FP64"}
_INTS = {"INT8", "INT16", "INT32", "INT64", "UINT8", "UINT16", "UINT32", "UINT64"}
_JSON_OPTS = orjson.OPT_SERIALIZE_NUMPY


class Request:
    """A decoded inference request."""

    __slots__ = ("id", "inputs", "nrows", "outputs", "binary_all", "parameters")

    def __init__(
        self, id: Any, inputs: dict, nrows: int, outputs: list | None, binary_all: bool, parameters: dict | None
    ) -> None:
        self.id = id
        self.inputs = inputs
        self.nrows = nrows
        self.outputs = outputs
        self.binary_all = binary_all
        self.parameters = parameters


def _compatible(got: str, want: str) -> bool:
    """May a tensor of datatype ``got`` feed an input declared ``want`` (no loss of meaning)?"""
    if got == want:
        return True
    if want in _FLOATS:
        return got in _FLOATS or got in _INTS
    if want in _INTS:
        return got in _INTS
    return False


def _bytes_tensor(raw: bytes, count: int, name: str) -> np.ndarray:
    out = []
    pos = 0
    n = len(raw)
    while pos < n:
        if pos + 4 > n:
            raise InvalidInput(f"Input '{name}': the BYTES tensor data is truncated.")
        (ln,) = struct.unpack_from("<I", raw, pos)
        pos += 4
        if pos + ln > n:
            raise InvalidInput(f"Input '{name}': the BYTES tensor data is truncated.")
        out.append(raw[pos : pos + ln])
        pos += ln
    if len(out) != count:
        raise InvalidInput(f"Input '{name}' has {len(out)} BYTES elements; its shape needs {count}.")
    return np.array(out, dtype=object)


def _shape(entry: dict, spec: TensorSpec) -> tuple[int, ...]:
    shape = entry.get("shape")
    want = spec.shape
    if (
        type(shape) is list
        and len(shape) == len(want) == 2
        and type(shape[0]) is int
        and type(shape[1]) is int
        and shape[0] >= 0
        and shape[1] >= 0
        and want[0] in (-1, shape[0])
        and want[1] in (-1, shape[1])
    ):
        return (shape[0], shape[1])  # the common case: a batch of rows
    if not isinstance(shape, list) or not all(type(d) is int and d >= 0 for d in shape):
        raise InvalidInput(
            f"Input '{spec.name}' has shape {shape!r}; expected a list of non-negative integers "
            f"like {list(spec.shape)} (-1 = any size)."
        )
    if spec.shape and (len(shape) != len(spec.shape) or any(w not in (-1, g) for g, w in zip(shape, spec.shape))):
        # a 1-D request for a [-1, k] model with exactly k values is one row: accept it
        if len(spec.shape) == 2 and len(shape) == 1 and spec.shape[1] in (-1, shape[0]):
            return (1, shape[0])
        raise InvalidInput(
            f"Input '{spec.name}' has shape {shape}; the model expects {list(spec.shape)} (-1 = any size)."
        )
    return tuple(shape)


def _json_data(data: Any, got: str, want: str, count: int, name: str) -> np.ndarray:
    if not isinstance(data, list):
        raise InvalidInput(f"Input '{name}': 'data' must be a list of values; got {type(data).__name__}.")
    if got == "BYTES":
        flat = data
        while flat and isinstance(flat[0], list):
            flat = [x for sub in flat for x in (sub if isinstance(sub, list) else [sub])]
        if not all(isinstance(x, str) for x in flat):
            raise InvalidInput(f"Input '{name}' is BYTES; its data must be strings.")
        if len(flat) != count:
            raise InvalidInput(f"Input '{name}' has {len(flat)} values; its shape needs {count}.")
        return np.array([x.encode() for x in flat], dtype=object)
    try:
        arr = np.array(data)
    except (ValueError, TypeError, OverflowError):
        raise InvalidInput(f"Input '{name}': 'data' is not a regular array of numbers.") from None
    kind = arr.dtype.kind
    if got == "BOOL":
        ok = kind == "b"
    elif got in _INTS:
        ok = kind in "iub" or (kind == "f" and arr.size == 0)
    else:
        ok = kind in "iufb" or (kind == "f" and arr.size == 0)
    if not ok:
        raise InvalidInput(f"Input '{name}' is {got} but its data holds {_kind_name(kind)}; send {got.lower()} values.")
    if arr.size != count:
        raise InvalidInput(f"Input '{name}' has {arr.size} values; its shape needs {count}.")
    target = _NP[want]
    try:
        with np.errstate(over="raise", invalid="raise"):
            return (
                arr.astype(_NP[got], copy=False).astype(target, copy=False)
                if got != want
                else arr.astype(target, copy=False)
            )
    except (OverflowError, FloatingPointError):
        raise InvalidInput(f"Input '{name}' has values out of range for {got}.") from None


def _loads_nonfinite(body: bytes, error: Exception) -> Any:
    """Parse a body orjson refused when it holds ``NaN``/``Infinity`` tokens; else the 400 for ``error``."""
    if b"NaN" in body or b"Infinity" in body:
        import json

        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            pass
    raise InvalidInput(f"The request body is not valid JSON: {error}.") from None


def _kind_name(kind: str) -> str:
    return {
        "U": "strings",
        "S": "strings",
        "O": "mixed or non-numeric values",
        "f": "floating-point numbers",
        "b": "booleans",
        "i": "integers",
        "u": "integers",
    }.get(kind, "values of another type")


def decode_request(body: bytes, header_length: int | None, specs: list[TensorSpec], output_names: list[str]) -> Request:
    """Parse and validate an inference request against the model's input signature."""
    binary = b""
    if header_length is not None:
        if header_length < 0 or header_length > len(body):
            raise InvalidInput(
                f"Inference-Header-Content-Length is {header_length} but the body has {len(body)} bytes."
            )
        binary = memoryview(body)[header_length:]
        body = body[:header_length]
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        doc = _loads_nonfinite(body, exc)
    if not isinstance(doc, dict):
        raise InvalidInput(f"The request body must be a JSON object with 'inputs'; got {type(doc).__name__}.")
    entries = doc.get("inputs")
    if not isinstance(entries, list) or not entries:
        raise InvalidInput("The request has no 'inputs': expected a list of {name, shape, datatype, data}.")
    by_name = {s.name: s for s in specs}
    inputs: dict[str, np.ndarray] = {}
    offset = 0
    nrows = -1
    for entry in entries:
        if not isinstance(entry, dict):
            raise InvalidInput("Each item of 'inputs' must be an object with name, shape, datatype and data.")
        name = entry.get("name")
        spec = by_name.get(name) if isinstance(name, str) else None
        if spec is None:
            if len(specs) == 1 and len(entries) == 1 and isinstance(name, str):
                spec = specs[0]  # a single-input model accepts any input name
            else:
                raise InvalidInput(
                    f"The request has an input named {name!r}; the model's inputs are "
                    f"{', '.join(repr(s.name) for s in specs)}."
                )
        if spec.name in inputs:
            raise InvalidInput(f"Input '{spec.name}' appears twice in the request.")
        got = entry.get("datatype")
        if not isinstance(got, str) or got not in _NP:
            raise InvalidInput(
                f"Input '{spec.name}' has datatype {got!r}; expected {spec.datatype} (one of {', '.join(_NP)})."
            )
        if not _compatible(got, spec.datatype):
            raise InvalidInput(f"Input '{spec.name}' has datatype {got}; the model expects {spec.datatype}.")
        shape = _shape(entry, spec)
        count = 1
        for d in shape:
            count *= d
        if count > 100_000_000:
            raise InvalidInput(f"Input '{spec.name}' has shape {list(shape)}, which is too large.")
        params = entry.get("parameters")
        size = params.get("binary_data_size") if isinstance(params, dict) else None
        if size is not None:
            if header_length is None:
                raise InvalidInput(
                    f"Input '{spec.name}' gives binary_data_size but the request has no "
                    "Inference-Header-Content-Length header."
                )
            if type(size) is not int or size < 0 or offset + size > len(binary):
                raise InvalidInput(f"Input '{spec.name}' has binary_data_size {size!r}, past the end of the body.")
            raw = bytes(binary[offset : offset + size])
            offset += size
            if got == "BYTES":
                arr = _bytes_tensor(raw, count, spec.name)
            else:
                dt = _NP[got]
                if size != count * dt.itemsize:
                    raise InvalidInput(
                        f"Input '{spec.name}' has {size} bytes of data; shape {list(shape)} of {got} needs "
                        f"{count * dt.itemsize}."
                    )
                arr = np.frombuffer(raw, dtype=dt)
                if got != spec.datatype:
                    arr = arr.astype(_NP[spec.datatype])
            arr = arr.reshape(shape)
        else:
            if "data" not in entry:
                raise InvalidInput(f"Input '{spec.name}' has no 'data'.")
            arr = _json_data(entry["data"], got, spec.datatype, count, spec.name).reshape(shape)
        rows = shape[0] if shape else 1
        if nrows < 0:
            nrows = rows
        elif rows != nrows:
            raise InvalidInput(f"Input '{spec.name}' has {rows} rows but other inputs have {nrows}.")
        inputs[spec.name] = arr
    missing = [s.name for s in specs if s.name not in inputs]
    if missing:
        raise InvalidInput(f"The request lacks the input(s) {', '.join(map(repr, missing))}.")
    outputs = doc.get("outputs")
    wanted = None
    if outputs is not None:
        if not isinstance(outputs, list):
            raise InvalidInput("'outputs' must be a list of {name, parameters}.")
        wanted = []
        for o in outputs:
            oname = o.get("name") if isinstance(o, dict) else None
            if oname not in output_names:
                raise InvalidInput(
                    f"The request asks for output {oname!r}; the model's outputs are "
                    f"{', '.join(map(repr, output_names))}."
                )
            p = o.get("parameters")
            wanted.append((oname, bool(isinstance(p, dict) and p.get("binary_data"))))
    params = doc.get("parameters")
    binary_all = bool(isinstance(params, dict) and params.get("binary_data_output"))
    rid = doc.get("id")
    return Request(
        rid if isinstance(rid, str) else None,
        inputs,
        max(nrows, 0),
        wanted,
        binary_all,
        params if isinstance(params, dict) else None,
    )


_DTYPE_V2: dict = {}


def _v2_type(arr: np.ndarray) -> str:
    dt = arr.dtype
    name = _DTYPE_V2.get(dt)
    if name is None:
        from .modeldir import NUMPY_TO_V2

        name = "BYTES" if dt.kind in "OUS" else NUMPY_TO_V2.get(dt.name, "FP64")
        _DTYPE_V2[dt] = name
    return name


def _bytes_of(arr: np.ndarray) -> bytes:
    parts = []
    for x in arr.ravel():
        b = x if isinstance(x, bytes) else str(x).encode()
        parts.append(struct.pack("<I", len(b)))
        parts.append(b)
    return b"".join(parts)


def _json_values(arr: np.ndarray, dtype: str) -> Any:
    if dtype == "BYTES":
        return [x.decode() if isinstance(x, bytes) else str(x) for x in arr.ravel()]
    if dtype == "FP16":
        return arr.astype(np.float32).ravel()
    return arr.ravel()  # a copy when not contiguous: orjson needs C order


def encode_response(
    model_name: str, model_version: str, request: Request, outputs: dict[str, np.ndarray]
) -> tuple[bytes, int | None]:
    """Serialize outputs; returns ``(body, json_header_length or None)``."""
    if request.outputs is None:
        selected = [(name, request.binary_all) for name in outputs]
    else:
        selected = [(name, b or request.binary_all) for name, b in request.outputs]
    items = []
    blobs = []
    for name, binary in selected:
        arr = outputs[name]
        dtype = _v2_type(arr)
        item: dict[str, Any] = {"name": name, "datatype": dtype, "shape": list(arr.shape)}
        if binary:
            raw = _bytes_of(arr) if dtype == "BYTES" else np.ascontiguousarray(arr).tobytes()
            item["parameters"] = {"binary_data_size": len(raw)}
            blobs.append(raw)
        else:
            item["data"] = _json_values(arr, dtype)
        items.append(item)
    doc: dict[str, Any] = {"model_name": model_name, "model_version": model_version, "outputs": items}
    if request.id is not None:
        doc["id"] = request.id
    head = orjson.dumps(doc, option=_JSON_OPTS)
    if blobs:
        return head + b"".join(blobs), len(head)
    return head, None
