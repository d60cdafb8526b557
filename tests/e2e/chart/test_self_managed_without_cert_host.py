"""Control: without `--cert-host`, the API server refuses the self-managed cert on loopback.

The certificate covers only the Service's DNS names, and the API server here dials
https://127.0.0.1:PORT, so the handshake fails and, with `failurePolicy: Ignore`, the pod is
admitted unchanged. This is why the chart suite passes `--cert-host=127.0.0.1`, and it shows the
injection checks of the other tests would catch a webhook that silently fails open.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from localcluster.control_plane import ControlPlane
from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.e2e.chart import selfmanaged as sm
from tests.kit.chart import access_objects, render
from tests.kit.eventually import eventually
from tests.kit.kubectl import Passwords, PodStream, create_namespace, docker_registry_secret

RELEASE = "nohost"
NAMESPACE = "pullpass-nohost"
FULLNAME = f"{RELEASE}-pullpass"
APP_NAMESPACE = "nohost-app"
REGISTRY = "nohost.registry.example"


@pytest.fixture(scope="module")
def nohost(
    control_plane: ControlPlane,
    kubectl: Kubectl,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Pullpass]:
    objects = render({}, release=RELEASE, namespace=NAMESPACE)
    create_namespace(kubectl, NAMESPACE, enabled=False)
    for obj in access_objects(objects):
        kubectl.apply(obj)
    server = sm.start_pullpass(
        control_plane,
        kubectl,
        objects,
        tmp_path_factory.mktemp("nohost"),
        release=RELEASE,
        namespace=NAMESPACE,
        cert_hosts=(),
    )
    try:
        yield server
    finally:
        server.stop()
        kubectl("delete", "mutatingwebhookconfiguration", FULLNAME, "--ignore-not-found")


def test_without_cert_host_the_api_server_fails_open(
    nohost: Pullpass, control_plane: ControlPlane, kubectl: Kubectl, passwords: Passwords
) -> None:
    data = sm.secret_data(kubectl, namespace=NAMESPACE, secret=f"{FULLNAME}-tls")
    assert data is not None
    assert "127.0.0.1" not in sm.sans(data["tls.crt"])
    create_namespace(kubectl, APP_NAMESPACE)
    docker_registry_secret(kubectl, passwords, APP_NAMESPACE, "regcred", REGISTRY)
    stream = PodStream(kubectl, APP_NAMESPACE, f"{REGISTRY}/app:1", "nohost")
    log = control_plane.apiserver.log
    target = f"127.0.0.1:{nohost.port}/mutate"

    def refused() -> str | None:
        stream.create_one()
        lines = log.read_text(errors="replace").splitlines()
        return next((line for line in lines if target in line and "x509" in line), None)

    line = eventually(refused, 30, f"the API server to refuse the certificate at {target}", 0.5)
    # A name mismatch, not an unknown CA: the caBundle is right, the SANs lack the address.
    assert "doesn't contain any IP SANs" in line or "not 127.0.0.1" in line, line
    assert "unknown authority" not in line, line
    assert not stream.errors, stream.errors
    # Admitted, but this webhook's patch is missing: the silent failure the other tests look for.
    assert stream.results
    assert nohost.running()
