"""Downloading a blob is capped by the size its descriptor declares: a registry on loopback that lies about it
(streams more, endlessly, or less) is refused with one sentence; an honest one is read and its digest checked."""

from __future__ import annotations

import hashlib
import io
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from jupyter_modelops.exceptions import BuildError
from jupyter_modelops.images.client import RegistryClient

BLOB = bytes(range(256)) * 40  # 10,240 bytes
DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()


class _Lying(BaseHTTPRequestHandler):
    """``GET /v2/<repo>/blobs/<digest>``: the path's repo says how to lie (honest, more, endless, less)."""

    protocol_version = "HTTP/1.1"
    sent: list = []
    ended = threading.Event()

    def log_message(self, *args) -> None:  # quiet
        pass

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        mode = self.path.split("/")[2]
        if mode == "endless":  # chunked, no length, until the client hangs up (bounded at 256 MiB)
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            sent = 0
            try:
                while sent < 256 << 20:
                    piece = BLOB * 16
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                    sent += len(piece)
            except (BrokenPipeError, ConnectionResetError):
                pass
            type(self).sent.append(sent)
            type(self).ended.set()
            self.close_connection = True
            return
        body = {"honest": BLOB, "more": BLOB + b"x" * 100, "less": BLOB[:-1]}[mode]
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def lying_registry():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Lying)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    client = RegistryClient(f"127.0.0.1:{server.server_address[1]}")
    yield client
    client.close()
    server.shutdown()
    server.server_close()


def test_an_honest_blob_is_read_and_verified(lying_registry):
    out = io.BytesIO()
    assert lying_registry.fetch_blob("honest", DIGEST, out, size=len(BLOB)) == len(BLOB)
    assert out.getvalue() == BLOB
    assert lying_registry.read_blob("honest", DIGEST, size=len(BLOB)) == BLOB
    with pytest.raises(BuildError, match="more than the 10239 bytes"):  # a descriptor that lies: refused too
        lying_registry.read_blob("honest", DIGEST, size=len(BLOB) - 1)


@pytest.mark.parametrize("mode", ["more", "endless"])
def test_more_bytes_than_declared_are_refused_while_streaming(lying_registry, mode):
    out = io.BytesIO()
    with pytest.raises(BuildError, match=r"sent more than the 10240 bytes its descriptor declares") as err:
        lying_registry.fetch_blob(mode, DIGEST, out, size=len(BLOB))
    assert "\n" not in str(err.value) and str(err.value).endswith("refusing the blob.")  # one sentence
    assert len(out.getvalue()) <= len(BLOB)  # nothing past the declared size was written
    with pytest.raises(BuildError, match="more than the 10240 bytes"):
        lying_registry.read_blob(mode, DIGEST, size=len(BLOB))
    if mode == "endless":
        assert _Lying.ended.wait(60)
        assert max(_Lying.sent) < 256 << 20  # the client hung up; it did not read to the end


def test_fewer_bytes_than_declared_are_refused(lying_registry):
    with pytest.raises(BuildError, match="sent 10239 bytes .* declares 10240"):
        lying_registry.read_blob("less", DIGEST, size=len(BLOB))


@pytest.mark.parametrize("size", [None, -1, True, "10240"])
def test_a_descriptor_without_a_size_is_refused(lying_registry, size):
    with pytest.raises(BuildError, match="expected a number of bytes"):
        lying_registry.read_blob("honest", DIGEST, size=size)
