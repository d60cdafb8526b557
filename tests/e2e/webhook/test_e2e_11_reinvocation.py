"""11. Reinvocation: a later webhook adds a container; pullpass runs again and covers it."""

from __future__ import annotations

import base64
import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from localcluster.certificates import issue, new_ca, write_pair
from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.kit import objects
from tests.kit.eventually import eventually
from tests.kit.kubectl import (
    Passwords,
    apply_pod,
    create_namespace,
    docker_registry_secret,
    dry_run_create,
    pod_annotations,
    pull_secrets,
)

SIDECAR_IMAGE = "sidecar.registry.example/tools/sidecar:1"
SELECTOR = {"pullpass-e2e/sidecar": "yes"}


class _AddSidecar(BaseHTTPRequestHandler):
    """Adds one container from another registry unless it is already there."""

    calls: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        review = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        request = review["request"]
        containers = request["object"]["spec"]["containers"]
        response: dict[str, Any] = {"uid": request["uid"], "allowed": True}
        if all(c["name"] != "sidecar" for c in containers):
            patch = [
                {
                    "op": "add",
                    "path": "/spec/containers/-",
                    "value": {"name": "sidecar", "image": SIDECAR_IMAGE},
                }
            ]
            response["patchType"] = "JSONPatch"
            response["patch"] = base64.b64encode(json.dumps(patch).encode()).decode()
        self.calls.append(len(containers))
        body = json.dumps(
            {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "response": response}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the test asserts on what the API server stored."""


@pytest.fixture
def sidecar_webhook(kubectl: Kubectl, tmp_path: Path) -> Iterator[list[int]]:
    """A second mutating webhook, named to run after pullpass, that never reinvokes itself."""
    ca = new_ca("sidecar-ca")
    cert, key = write_pair(issue(ca, "sidecar", hosts=["127.0.0.1"]), tmp_path, "tls")
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AddSidecar)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _AddSidecar.calls.clear()
    name = "zz-pullpass-e2e-sidecar"
    config = {
        "apiVersion": "admissionregistration.k8s.io/v1",
        "kind": "MutatingWebhookConfiguration",
        "metadata": {"name": name},
        "webhooks": [
            {
                "name": "sidecar.e2e.pullpass.io",
                "clientConfig": {
                    "url": f"https://127.0.0.1:{server.server_address[1]}/add",
                    "caBundle": base64.b64encode(ca.cert_pem).decode(),
                },
                "namespaceSelector": {"matchLabels": SELECTOR},
                "rules": [
                    {
                        "apiGroups": [""],
                        "apiVersions": ["v1"],
                        "operations": ["CREATE"],
                        "resources": ["pods"],
                    }
                ],
                "failurePolicy": "Fail",
                "timeoutSeconds": 5,
                "reinvocationPolicy": "Never",
                "sideEffects": "None",
                "admissionReviewVersions": ["v1"],
            }
        ],
    }
    kubectl.apply(config)
    try:
        yield _AddSidecar.calls
    finally:
        kubectl("delete", "mutatingwebhookconfiguration", name, "--ignore-not-found")
        server.shutdown()
        server.server_close()


def test_reinvocation_adds_the_sidecars_credential_once(
    kubectl: Kubectl, pullpass: Pullpass, passwords: Passwords, sidecar_webhook: list[int]
) -> None:
    namespace = create_namespace(kubectl, "e2e-reinvoke", labels=SELECTOR)
    docker_registry_secret(kubectl, passwords, namespace, "app-cred", "quay.io")
    docker_registry_secret(
        kubectl, passwords, namespace, "sidecar-cred", "sidecar.registry.example"
    )

    def probe() -> bool:
        """The API server learns the new configuration asynchronously."""
        done = dry_run_create(
            kubectl, json.dumps(objects.pod(namespace, "quay.io/team/app:1", name="probe"))
        )
        return len(json.loads(done.stdout)["spec"]["containers"]) == 2

    eventually(probe, 30, "the sidecar webhook to be called", every=0.3)

    pod = apply_pod(
        kubectl, objects.pod(namespace, "quay.io/team/app:1", name="app", pull_secrets=["app-cred"])
    )

    images = [c["image"] for c in pod["spec"]["containers"]]
    assert images == ["quay.io/team/app:1", SIDECAR_IMAGE]
    # pullpass saw only the app container first (already covered); only its reinvocation can
    # have added the sidecar's credential.
    assert pull_secrets(pod) == ["app-cred", "sidecar-cred"]
    assert "sidecar-cred" in pod_annotations(pod).get("pullpass.io/injected", "")
    assert sidecar_webhook, "the sidecar webhook was never called"
