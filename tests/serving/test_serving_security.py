"""Bearer-token auth, TLS (with reload on change) and connection limits, on a real server process.

Auth and TLS are checked with the official V2 client (tritonclient) and with ``mo.predict``;
the connection limits with raw sockets, small limits set for the test, bounded in count and time.
"""

from __future__ import annotations

import json
import secrets
import socket
import ssl
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
from test_serving_errors import call, one

from conftest import Server
from realparts import need_tool

TOKEN = secrets.token_urlsafe(24)


def _token_file(tmp_path: Path, *tokens: str) -> Path:
    f = tmp_path / "token"
    f.write_text("# bearer tokens of this server\n" + "\n".join(tokens) + "\n")
    f.chmod(0o600)
    return f


def _cert(tmp_path: Path, cn: str) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1, made by the real openssl."""
    openssl = need_tool("openssl", "to make a TLS certificate")
    cert, key = tmp_path / f"{cn}.crt", tmp_path / f"{cn}.key"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            f"/CN={cn}",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def _auth(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


# -- auth ---------------------------------------------------------------------------------------


def test_token_auth_guards_everything_but_health(start_server, model_dir, tmp_path, data, hgb):
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException

    tf = _token_file(tmp_path, TOKEN)
    server = start_server(model_dir, "--token-file", str(tf))
    for path in ("/v2/health/live", "/v2/health/ready"):  # probes need no token
        assert call(server, "GET", path)[0] == 200
    answers = {}
    for label, headers in (
        ("none", {}),
        ("wrong", _auth(TOKEN[:-1] + ("x" if TOKEN[-1] != "x" else "y"))),
        ("scheme", {"Authorization": f"Basic {TOKEN}"}),
        ("prefix", _auth(TOKEN[:10])),
    ):
        status, h, out = call(server, "POST", "/v2/models/hgb/infer", json.dumps(one()).encode(), headers=headers)
        assert status == 401 and h["www-authenticate"].startswith("Bearer"), (label, status)
        answers[label] = out
    assert len(set(answers.values())) == 1  # the same answer whatever was wrong
    assert "Authorization: Bearer" in json.loads(answers["none"])["error"]
    for path in ("/metrics", "/v2", "/v2/models/hgb", "/v2/models/nope", "/"):  # nothing leaks without the token
        assert call(server, "GET", path)[0] == 401, path
    assert call(server, "GET", "/metrics", headers=_auth(TOKEN))[0] == 200
    assert "modelops_requests_total" in call(server, "GET", "/metrics", headers=_auth(TOKEN))[2].decode()

    X = data[0][:4]
    client = httpclient.InferenceServerClient(server.url.split("//")[1])
    inp = httpclient.InferInput("input", list(X.shape), "FP64")
    inp.set_data_from_numpy(X, binary_data=True)
    res = client.infer("hgb", [inp], headers=_auth(TOKEN))
    assert res.as_numpy("label").tolist() == hgb.predict(X).tolist()
    with pytest.raises(InferenceServerException, match="bearer token"):
        client.infer("hgb", [inp])
    client.close()

    import jupyter_modelops as mo
    from jupyter_modelops.exceptions import ValidationError

    assert mo.predict(server.url, X, token=TOKEN)["label"].tolist() == hgb.predict(X).tolist()
    assert mo.predict(server.url, X, token_file=str(tf))["label"].tolist() == hgb.predict(X).tolist()
    with pytest.raises(ValidationError, match="not both"):
        mo.predict(server.url, X, token=TOKEN, token_file=str(tf))
    with pytest.raises(ValidationError, match="HTTP 401"):
        mo.predict(server.url, X)


def test_token_file_rotation_takes_effect_without_restart(start_server, model_dir, tmp_path):
    tf = _token_file(tmp_path, TOKEN)
    server = start_server(model_dir, "--token-file", str(tf))
    new = secrets.token_urlsafe(24)
    body = json.dumps(one()).encode()
    assert call(server, "POST", "/v2/models/hgb/infer", body, headers=_auth(TOKEN))[0] == 200
    tf.write_text(f"{new}\n{TOKEN}\n")  # roll out the new token beside the old one
    tf.chmod(0o600)
    end = time.monotonic() + 15
    while call(server, "POST", "/v2/models/hgb/infer", body, headers=_auth(new))[0] != 200:
        assert time.monotonic() < end, "the new token was never accepted"
        time.sleep(0.2)
    assert call(server, "POST", "/v2/models/hgb/infer", body, headers=_auth(TOKEN))[0] == 200
    tf.write_text("")  # a broken file keeps the tokens in force
    time.sleep(1.5)
    assert call(server, "POST", "/v2/models/hgb/infer", body, headers=_auth(new))[0] == 200
    tf.write_text(f"{new}\n")  # retire the old token
    while call(server, "POST", "/v2/models/hgb/infer", body, headers=_auth(TOKEN))[0] != 401:
        assert time.monotonic() < end + 15, "the old token was never retired"
        time.sleep(0.2)
    assert server.proc.poll() is None


def test_open_metrics_leaves_metrics_open_but_not_the_model(start_server, model_dir, tmp_path):
    server = start_server(model_dir, "--token-file", str(_token_file(tmp_path, TOKEN)), "--open-metrics")
    assert call(server, "GET", "/metrics")[0] == 200
    assert call(server, "GET", "/v2/models/hgb")[0] == 401


@pytest.mark.parametrize(
    "content, needle",
    [
        ("", "holds no token"),
        ("short\n", "at least 16 characters"),
        ("has a space in it 1234567890\n", "not a bearer token"),
    ],
)
def test_bad_token_file_is_refused_in_one_sentence(model_dir, tmp_path, content, needle):
    tf = tmp_path / "token"
    tf.write_text(content)
    s = Server(model_dir, "--token-file", str(tf), wait_ready=False)
    try:
        assert s.proc.wait(60) == 2
        out = s.output()
        assert needle in out and "Traceback" not in out
    finally:
        s.stop()


def test_missing_token_file_and_half_a_tls_pair_are_refused(model_dir, tmp_path):
    (tmp_path / "c.pem").write_text("not a certificate")
    for args, needle in (
        (["--token-file", str(tmp_path / "absent")], "cannot be read"),
        (["--tls-cert", str(tmp_path / "c.pem")], "both --tls-cert and --tls-key"),
        (["--tls-cert", str(tmp_path / "c.pem"), "--tls-key", str(tmp_path / "c.pem")], "cannot be loaded together"),
        (["--header-timeout-s", "-1"], "expected 0 or more"),
    ):
        s = Server(model_dir, *args, wait_ready=False)
        try:
            assert s.proc.wait(60) == 2
            out = s.output()
            assert needle in out and "Traceback" not in out
        finally:
            s.stop()


# -- TLS ----------------------------------------------------------------------------------------


def _peer_cn(port: int, ca: Path) -> str:
    ctx = ssl.create_default_context(cafile=str(ca))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
        with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
            return dict(x[0] for x in s.getpeercert()["subject"])["commonName"]


def test_tls_with_token_tritonclient_and_reload_on_change(model_dir, tmp_path, data, hgb):
    import tritonclient.http as httpclient

    import jupyter_modelops as mo

    cert, key = _cert(tmp_path, "first")
    live_cert, live_key = tmp_path / "tls.crt", tmp_path / "tls.key"
    live_cert.write_bytes(cert.read_bytes())
    live_key.write_bytes(key.read_bytes())
    tf = _token_file(tmp_path, TOKEN)
    s = Server(
        model_dir,
        "--tls-cert",
        str(live_cert),
        "--tls-key",
        str(live_key),
        "--tls-reload-s",
        "0.2",
        "--token-file",
        str(tf),
        "--header-timeout-s",
        "1",
        wait_ready=False,
    )
    try:
        url = f"https://127.0.0.1:{s.port}"
        end = time.monotonic() + 60
        while True:
            try:
                assert mo.predict(url, data[0][:1], token=TOKEN, verify=str(cert))["label"].shape == (1,)
                break
            except Exception:  # noqa: BLE001 - not up yet
                assert s.proc.poll() is None and time.monotonic() < end, s.output()
                time.sleep(0.2)
        X = data[0][:5]
        pred = mo.predict(url, X, token=TOKEN, verify=str(cert))
        assert pred["label"].tolist() == hgb.predict(X).tolist()

        client = httpclient.InferenceServerClient(f"127.0.0.1:{s.port}", ssl=True, ssl_options={"ca_certs": str(cert)})
        inp = httpclient.InferInput("input", list(X.shape), "FP64")
        inp.set_data_from_numpy(X, binary_data=False)
        res = client.infer("hgb", [inp], headers=_auth(TOKEN))
        assert res.as_numpy("label").tolist() == hgb.predict(X).tolist()
        assert client.is_server_live()  # health needs no token
        client.close()

        with pytest.raises(Exception, match="(?i)certificate"):  # a client that does not trust it refuses
            mo.predict(url, X, token=TOKEN)
        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as plain:  # no plain HTTP on the port
            plain.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
            assert not plain.recv(100).startswith(b"HTTP/1.1 200")

        with socket.create_connection(("127.0.0.1", s.port), timeout=10) as mute:  # never starts its handshake
            assert _recv_all(mute) == b""  # closed after the header timeout, not asyncio's 60 s

        assert _peer_cn(s.port, cert) == "first"
        cert2, key2 = _cert(tmp_path, "second")
        live_key.write_bytes(key2.read_bytes())
        live_cert.write_bytes(cert2.read_bytes())
        end = time.monotonic() + 20
        while True:
            try:
                if _peer_cn(s.port, cert2) == "second":
                    break
            except ssl.SSLError:  # still the first certificate
                pass
            assert time.monotonic() < end, "the new certificate was never served"
            time.sleep(0.2)
        pred = mo.predict(url, X, token=TOKEN, verify=str(cert2))
        assert pred["label"].tolist() == hgb.predict(X).tolist()
        assert s.proc.poll() is None
    finally:
        s.stop()


# -- connection limits --------------------------------------------------------------------------


def _recv_all(sock: socket.socket, limit: float = 8.0) -> bytes:
    """Read until the server closes the connection (bounded by ``limit`` seconds)."""
    sock.settimeout(limit)
    out = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                return out
            out += chunk
    except (socket.timeout, ConnectionResetError):
        return out + b"<not closed>"


def _open(server) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=10)


LIMITS = (
    "--header-timeout-s",
    "1",
    "--body-timeout-s",
    "1",
    "--keepalive-timeout-s",
    "1",
    "--max-header-bytes",
    "4096",
    "--max-headers",
    "20",
    "--max-connections",
    "12",
)


def test_slow_idle_and_oversized_clients_are_cut_off(start_server, model_dir):
    server = start_server(model_dir, *LIMITS)
    # slowloris: a request line, then a header byte every 0.3 s, never finishing
    slow = [_open(server) for _ in range(4)]
    for s in slow:
        s.sendall(b"POST /v2/models/hgb/infer HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    for _ in range(5):
        time.sleep(0.3)
        for s in slow:
            try:
                s.sendall(b"a")
            except OSError:  # already cut off
                pass
    for s in slow:
        got = _recv_all(s)
        assert got.startswith(b"HTTP/1.1 408") and got.endswith(b"}"), got[:200]
        s.close()
    # idle: connected, nothing sent
    idle = _open(server)
    got = _recv_all(idle)
    assert got.startswith(b"HTTP/1.1 408") and b"did not arrive" in got
    idle.close()
    # a body that never finishes
    trickle = _open(server)
    trickle.sendall(b'POST /v2/models/hgb/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{"inputs"')
    got = _recv_all(trickle)
    assert got.startswith(b"HTTP/1.1 408") and b"body" in got
    trickle.close()
    # headers too large, in one piece and trickled in small pieces without an end
    big = _open(server)
    big.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 8000 + b"\r\n\r\n")
    got = _recv_all(big)
    assert got.startswith(b"HTTP/1.1 431") and b"4096 bytes" in got
    big.close()
    endless = _open(server)
    endless.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n")
    try:
        for i in range(40):
            endless.sendall(b"X-H%d: %s\r\n" % (i % 10, b"b" * 200))
    except OSError:
        pass
    got = _recv_all(endless)
    assert got.startswith(b"HTTP/1.1 431"), got[:100]
    endless.close()
    many = _open(server)
    many.sendall(
        b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n" + b"".join(b"X-N%d: 1\r\n" % i for i in range(30)) + b"\r\n"
    )
    got = _recv_all(many)
    assert got.startswith(b"HTTP/1.1 431") and b"more than 20 header fields" in got
    many.close()
    # a kept-alive connection is closed once idle
    keep = _open(server)
    keep.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n\r\n")
    got = _recv_all(keep)
    assert got.startswith(b"HTTP/1.1 200") and not got.endswith(b"<not closed>")
    keep.close()
    # the server is fine and counted what it refused
    assert call(server, "POST", "/v2/models/hgb/infer", json.dumps(one()).encode())[0] == 200
    text = call(server, "GET", "/metrics")[2].decode()
    for reason in ("header_timeout", "body_timeout", "headers_too_large"):
        assert f'modelops_shed_total{{reason="{reason}"}}' in text, reason


def test_connection_cap_answers_503_and_frees_up(start_server, model_dir):
    server = start_server(model_dir, *LIMITS)
    held = [_open(server) for _ in range(12)]
    try:
        time.sleep(0.2)
        extra = _open(server)
        got = _recv_all(extra)
        assert got.startswith(b"HTTP/1.1 503") and b"retry-after: 1" in got.lower() and b"open connections" in got
        extra.close()
    finally:
        for s in held:
            s.close()
    end = time.monotonic() + 10
    while True:  # the held connections are gone: new ones are served again
        try:
            if call(server, "POST", "/v2/models/hgb/infer", json.dumps(one()).encode())[0] == 200:
                break
        except OSError:
            pass
        assert time.monotonic() < end
        time.sleep(0.1)
    assert 'modelops_shed_total{reason="connection_limit"} 1' in call(server, "GET", "/metrics")[2].decode()


def test_normal_clients_are_unaffected_by_the_limits(start_server, model_dir, data, hgb):
    import tritonclient.http as httpclient

    server = start_server(model_dir, *LIMITS)
    client = httpclient.InferenceServerClient(server.url.split("//")[1], concurrency=4)
    X = data[0][:3]
    for binary in (True, False):
        inp = httpclient.InferInput("input", list(X.shape), "FP64")
        inp.set_data_from_numpy(X, binary_data=binary)
        for _ in range(3):
            res = client.infer("hgb", [inp])
            assert res.as_numpy("label").tolist() == hgb.predict(X).tolist()
    client.close()
    assert np.isfinite(X).all()


def test_local_deployment_with_token_and_tls(model_dir, tmp_path, data, hgb):
    import jupyter_modelops as mo
    from jupyter_modelops.exceptions import ValidationError

    cert, key = _cert(tmp_path, "local")
    tf = _token_file(tmp_path, TOKEN)
    with pytest.raises(ValidationError, match="both --tls-cert and --tls-key"):
        mo.serve(model_dir, name="sec-bad", tls_cert=cert)
    with pytest.raises(ValidationError, match="limits has the key 'max_bodies'"):
        mo.serve(model_dir, name="sec-bad", limits={"max_bodies": 1})
    with pytest.raises(ValidationError, match="expected an int"):
        mo.serve(model_dir, name="sec-bad", limits={"max_headers": 2.5})
    dep = mo.serve(
        model_dir,
        name="sec",
        token_file=tf,
        tls_cert=cert,
        tls_key=key,
        limits={"max_headers": 20, "header_timeout_s": 2.0},
    )
    try:
        assert dep.url.startswith("https://127.0.0.1:") and dep.status()["ready"]
        ctx = ssl.create_default_context(cafile=str(cert))
        with socket.create_connection(("127.0.0.1", int(dep.port)), timeout=10) as raw:
            with ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:  # the limits reached the workers
                s.sendall(
                    b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n"
                    + b"".join(b"X-N%d: 1\r\n" % i for i in range(30))
                    + b"\r\n"
                )
                assert _recv_all(s).startswith(b"HTTP/1.1 431")
        X = data[0][:4]
        # the deployment knows its token file: predict sends the token by itself
        assert mo.predict(dep, X, verify=str(cert))["label"].tolist() == hgb.predict(X).tolist()
        with pytest.raises(ValidationError, match="HTTP 401"):
            mo.predict(dep.url, X, verify=str(cert))
    finally:
        dep.stop()
