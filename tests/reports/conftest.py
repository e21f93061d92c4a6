from __future__ import annotations

import http.server
import json
import subprocess
import threading

import nbformat
import pytest

from realparts import need_tool


def make_template(path, param_src: str, *body: str) -> str:
    """Write a small report template: a tagged parameters cell, then code cells."""
    nb = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell(param_src)
    cell.metadata["tags"] = ["parameters"]
    nb.cells.append(cell)
    for src in body:
        nb.cells.append(nbformat.v4.new_code_cell(src))
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return str(path)


@pytest.fixture
def webhook():
    """A real HTTP server on 127.0.0.1 that records the JSON bodies posted to it."""
    received: list[dict] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            n = int(self.headers.get("Content-Length", 0))
            received.append(
                {"path": self.path, "ctype": self.headers.get("Content-Type"), "body": json.loads(self.rfile.read(n))}
            )
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *a):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    server.shutdown()
    server.server_close()


@pytest.fixture
def crontab():
    """The real crontab of this user (with one foreign line added), restored exactly afterwards."""
    exe = need_tool("crontab", "local report schedules are crontab lines")
    before = subprocess.run([exe, "-l"], capture_output=True, text=True)
    saved = before.stdout if before.returncode == 0 else None
    foreign = "17 3 * * * /bin/true # a line that is not ours\n"
    subprocess.run([exe, "-"], input=(saved or "") + foreign, text=True, check=True)
    yield exe
    if saved is None:
        subprocess.run([exe, "-r"], capture_output=True)
    else:
        subprocess.run([exe, "-"], input=saved, text=True, check=True)
