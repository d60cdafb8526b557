"""Secretless mode's port: TLS that requires a client certificate from the cluster's client CA,
and the certificate's common name handed to the exchange."""

import asyncio
import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.shell.web.credentials import Exchange
from app.shell.web.credentials_api import credentials_config
from app.shell.web.tls import ReloadingContext
from localcluster.certificates import issue, new_ca, write_pair
from localcluster.processes import free_port
from tests.kit.cli import ROOT
from tests.kit.eventually import eventually


class Echo:
    """Answers with the caller it was given, so the test sees what the port passed on; a body
    asking to be refused gets the exchange's 403."""

    def answer(self, body: bytes, caller: str | None) -> tuple[int, bytes]:
        if b"refuse me" in body:
            return 403, b'{"error":"the token is not bound to a pod"}'
        return 200, json.dumps({"caller": caller, "bytes": len(body)}).encode()


class Certs:
    def __init__(self, root: Path) -> None:
        self.root = root
        server_ca, self.client_ca = new_ca("serving-ca"), new_ca("cluster-client-ca")
        self.server_ca_file, _ = write_pair(server_ca, root, "server-ca")
        self.client_ca_file, _ = write_pair(self.client_ca, root, "client-ca")
        self.cert, self.key = write_pair(
            issue(server_ca, "pullpass", hosts=["127.0.0.1"]), root, "tls"
        )

    def client(self, name: str, ca: Any = None) -> tuple[str, str]:
        pair = issue(ca or self.client_ca, name, organizations=["system:nodes"], client=True)
        cert, key = write_pair(pair, self.root, name.replace(":", "-"))
        return str(cert), str(key)


@pytest.fixture(scope="module")
def port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Certs]]:
    import uvicorn

    certs = Certs(tmp_path_factory.mktemp("credentials-certs"))
    context = ReloadingContext(str(certs.cert), str(certs.key), str(certs.client_ca_file))
    number = free_port()
    common = {"host": "127.0.0.1", "log_config": None, "access_log": False, "lifespan": "off"}
    echo: Any = Echo()
    exchange: Exchange = echo
    server = uvicorn.Server(credentials_config(exchange, number, context.context, common))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve()), daemon=True)
    thread.start()
    eventually(lambda: server.started, 10, "the credentials port")
    yield number, certs
    server.should_exit = True
    thread.join(10)


def post(port: int, certs: Certs, client: tuple[str, str] | None) -> httpx.Response:
    context = ssl.create_default_context(cafile=str(certs.server_ca_file))
    if client is not None:
        context.load_cert_chain(*client)
    with httpx.Client(verify=context) as http:
        return http.post(f"https://127.0.0.1:{port}/credentials", content=b"{}")


def test_the_kubelets_certificate_names_its_node(port: tuple[int, Certs]) -> None:
    number, certs = port
    answer = post(number, certs, certs.client("system:node:node-1"))
    assert answer.status_code == 200
    assert answer.json() == {"caller": "system:node:node-1", "bytes": 2}


def test_no_certificate_or_one_from_another_ca_is_refused_in_the_handshake(
    port: tuple[int, Certs],
) -> None:
    number, certs = port
    with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
        post(number, certs, None)
    stranger = certs.client("system:node:node-1", ca=new_ca("someone-else"))
    with pytest.raises((httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)):
        post(number, certs, stranger)


def test_only_post_credentials_is_served(port: tuple[int, Certs]) -> None:
    number, certs = port
    context = ssl.create_default_context(cafile=str(certs.server_ca_file))
    context.load_cert_chain(*certs.client("system:node:node-1"))
    with httpx.Client(verify=context) as http:
        assert http.get(f"https://127.0.0.1:{number}/credentials").status_code == 404
        big = http.post(f"https://127.0.0.1:{number}/credentials", content=b"x" * 70000)
        assert big.status_code == 413


# --- the kubelet's plugin, built as `make tools` builds it ---

REQUEST = b'{"apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"r/a:1"}'


@pytest.fixture(scope="module")
def plugin() -> str:
    built = subprocess.run(
        [str(ROOT / "scripts" / "credential-provider")], capture_output=True, text=True, check=False
    )
    assert built.returncode == 0, built.stderr
    return built.stdout.strip().splitlines()[-1]


def run_plugin(
    plugin: str, args: list[str], body: bytes = REQUEST
) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([plugin, *args], input=body, capture_output=True, timeout=30, check=False)


def test_the_plugin_forwards_the_request_with_the_kubelets_certificate(
    port: tuple[int, Certs], plugin: str, tmp_path: Path
) -> None:
    number, certs = port
    cert, key = certs.client("system:node:node-1")
    settings = tmp_path / "settings.json"
    settings.write_text(
        json.dumps(
            {
                "url": f"https://127.0.0.1:{number}/credentials",
                "caFile": str(certs.server_ca_file),
                "certFile": cert,
                "keyFile": key,
            }
        )
    )
    done = run_plugin(plugin, [f"--settings={settings}"])
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"caller": "system:node:node-1", "bytes": len(REQUEST)}

    refused = run_plugin(plugin, [f"--settings={settings}"], REQUEST + b" refuse me")
    assert refused.returncode == 1
    assert refused.stdout == b""
    assert b"pullpass answered 403: the token is not bound to a pod" in refused.stderr


def test_the_plugin_gives_up_within_its_timeout_when_pullpass_does_not_answer(
    port: tuple[int, Certs], plugin: str
) -> None:
    _, certs = port
    cert, key = certs.client("system:node:node-1")
    with socket.socket() as silent:  # accepts TCP (the backlog) but never speaks TLS
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"https://127.0.0.1:{silent.getsockname()[1]}/credentials"
        args = [f"--url={url}", f"--ca-file={certs.server_ca_file}", f"--cert-file={cert}"]
        began = time.monotonic()
        done = run_plugin(plugin, [*args, f"--key-file={key}", "--timeout=1"])
        took = time.monotonic() - began
    assert done.returncode == 1
    assert b"pullpass unreachable" in done.stderr
    assert took < 5, took


def test_the_plugin_needs_its_settings(plugin: str) -> None:
    done = run_plugin(plugin, [])
    assert done.returncode == 1
    assert b"--url, --ca-file and --cert-file are required" in done.stderr


def test_install_places_the_plugin_its_settings_and_the_kubelets_config(
    plugin: str, tmp_path: Path
) -> None:
    ca, provider_config = tmp_path / "ca.crt", tmp_path / "config.yaml"
    ca.write_text("CA PEM")
    provider_config.write_text("kind: CredentialProviderConfig\n")
    bin_dir, config_dir = tmp_path / "host-bin", tmp_path / "host-config"
    args = [
        "install",
        f"--bin-dir={bin_dir}",
        f"--config-dir={config_dir}",
        f"--ca-from={ca}",
        f"--provider-config={provider_config}",
        "--url=https://10.96.0.9:8444/credentials",
        "--server-name=pullpass.pullpass-system.svc",
        "--cert-file=/var/lib/kubelet/pki/kubelet-client-current.pem",
    ]
    process = subprocess.Popen([plugin, *args], stderr=subprocess.PIPE)
    try:
        eventually((config_dir / "credential-provider-config.yaml").exists, 10, "install")
        assert process.poll() is None, "install must keep running (a DaemonSet's container)"
    finally:
        process.terminate()
        process.wait(10)
    assert (bin_dir / "pullpass-credential-provider").read_bytes() == Path(plugin).read_bytes()
    assert (config_dir / "pullpass-ca.crt").read_text() == "CA PEM"
    settings = json.loads((config_dir / "pullpass-credential-provider.json").read_text())
    assert settings["url"] == "https://10.96.0.9:8444/credentials"
    assert settings["caFile"] == str(config_dir / "pullpass-ca.crt")
    assert settings["serverName"] == "pullpass.pullpass-system.svc"
    assert not [p for p in config_dir.iterdir() if p.name.startswith(".pullpass-")]
