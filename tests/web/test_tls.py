"""``napomni serve`` over TLS: the session cookie is Secure and HSTS is sent (issue 14, item 9).

A real server process with a certificate made here (openssl), reached over https on
127.0.0.1; and plain HTTP keeps working, without the header, when nothing asks for TLS.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _certificate(directory: Path) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("нет openssl")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],  # fmt: skip
        check=True,
        capture_output=True,
    )
    return cert, key


def _get(url: str, context: ssl.SSLContext | None) -> tuple[int, dict[str, str], list[str]]:
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url, context=context, timeout=5) as response:
                return (
                    response.status,
                    dict(response.headers),
                    response.headers.get_all("Set-Cookie") or [],
                )
        except (urllib.error.URLError, ConnectionError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)


def _serve(tmp_path: Path, *args: str) -> tuple[subprocess.Popen[bytes], int]:
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "napomni", "serve", "--port", str(port), *args],
        cwd=ROOT,
        env={**os.environ, "NAPOMNI_DATA_DIR": str(tmp_path / "var")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return server, port


def test_served_over_tls_with_a_secure_cookie_and_hsts(tmp_path: Path) -> None:
    cert, key = _certificate(tmp_path)
    server, port = _serve(tmp_path, "--tls-cert", str(cert), "--tls-key", str(key))
    try:
        context = ssl.create_default_context(cafile=str(cert))
        context.check_hostname = False  # the certificate names 127.0.0.1 as its CN only
        status, headers, cookies = _get(f"https://127.0.0.1:{port}/login", context)
        assert status == 200
        assert headers["Strict-Transport-Security"] == "max-age=31536000"
        assert cookies
        assert all("Secure" in cookie and "HttpOnly" in cookie for cookie in cookies)
    finally:
        server.terminate()
        server.wait(10)


def test_plain_http_sends_no_hsts(tmp_path: Path) -> None:
    server, port = _serve(tmp_path)
    try:
        status, headers, cookies = _get(f"http://127.0.0.1:{port}/login", None)
        assert status == 200
        assert "Strict-Transport-Security" not in headers
        assert all("Secure" not in cookie for cookie in cookies)
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.parametrize(
    ("env", "secure"),
    [
        ({}, False),
        ({"NAPOMNI_WEB_HTTPS": "1"}, True),  # behind an HTTPS proxy
        ({"NAPOMNI_SMS_PUBLIC_URL": "https://napomni.example.ru"}, True),  # the public URL
        ({"NAPOMNI_SMS_PUBLIC_URL": "http://127.0.0.1:8080", "NAPOMNI_WEB_HTTPS": "0"}, False),
    ],
)
def test_cookies_are_secure_behind_a_proxy_or_with_an_https_public_url(
    tmp_path: Path, env: dict[str, str], secure: bool
) -> None:
    from napomni.commands.serve import web_config
    from napomni.settings import load_settings

    settings = load_settings({"NAPOMNI_DATA_DIR": str(tmp_path), **env})
    assert web_config(settings).cookie_secure is secure
