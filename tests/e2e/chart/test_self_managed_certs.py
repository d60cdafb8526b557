"""Self-managed certificates end to end: from no Secret to a trusted webhook, and rotations.

The webhook's `failurePolicy: Ignore` would hide a TLS failure (the pod is admitted unchanged),
so every check looks at what the API server stored: each pod must carry the injected pull
secret. Rotations run under a steady stream of pod creations, and pullpass must keep its PID.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from cryptography import x509

from localcluster.control_plane import ControlPlane
from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.e2e.chart import selfmanaged as sm
from tests.kit.chart import access_objects, render
from tests.kit.eventually import eventually
from tests.kit.kubectl import Passwords, PodStream, create_namespace, docker_registry_secret, unique

APP_NAMESPACE = "certs-app"
REGISTRY = "certs.registry.example"
IMAGE = f"{REGISTRY}/team/app:1"
CREDENTIAL = "regcred"
SERVICE_NAMES = {
    sm.FULLNAME,
    f"{sm.FULLNAME}.{sm.NAMESPACE}",
    f"{sm.FULLNAME}.{sm.NAMESPACE}.svc",
    f"{sm.FULLNAME}.{sm.NAMESPACE}.svc.cluster.local",
}
# The pod stream must keep going this long, and this many pods, after the new cert is served.
AFTER_SWITCH_SECONDS = 6
AFTER_SWITCH_PODS = 15


@dataclass
class Installation:
    kubectl: Kubectl
    server: Pullpass
    secret_absent_at_start: bool
    pid: int


@pytest.fixture(scope="module")
def installation(
    control_plane: ControlPlane,
    kubectl: Kubectl,
    passwords: Passwords,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Installation]:
    objects = render({}, release=sm.RELEASE, namespace=sm.NAMESPACE)
    create_namespace(kubectl, sm.NAMESPACE, enabled=False)
    for obj in access_objects(objects):
        kubectl.apply(obj)
    create_namespace(kubectl, APP_NAMESPACE)
    docker_registry_secret(kubectl, passwords, APP_NAMESPACE, CREDENTIAL, REGISTRY)
    absent = sm.secret_data(kubectl) is None
    server = sm.start_pullpass(control_plane, kubectl, objects, tmp_path_factory.mktemp("certs"))
    try:
        assert server.component.process is not None
        yield Installation(kubectl, server, absent, server.component.process.pid)
    finally:
        server.stop()


def current_pair(kubectl: Kubectl) -> dict[str, bytes]:
    data = sm.secret_data(kubectl)
    assert data is not None, f"Secret {sm.NAMESPACE}/{sm.TLS_SECRET} is missing"
    return data


def injected_pod(kubectl: Kubectl) -> bool:
    """One real pod creation: did the API server call pullpass, over TLS, and store its patch?"""
    stream = PodStream(kubectl, APP_NAMESPACE, IMAGE, unique("probe"))
    stream.create_one()
    return bool(stream.results) and CREDENTIAL in stream.results[0][2]


def test_no_secret_at_start_yields_a_webhook_the_api_server_trusts(
    installation: Installation,
) -> None:
    kubectl, server = installation.kubectl, installation.server
    assert installation.secret_absent_at_start, "the TLS Secret existed before pullpass started"

    data = current_pair(kubectl)
    assert set(data) >= {"ca.crt", "ca.key", "tls.crt", "tls.key"}, sorted(data)
    ca = x509.load_pem_x509_certificate(data["ca.crt"])
    leaf = x509.load_pem_x509_certificate(data["tls.crt"])
    leaf.verify_directly_issued_by(ca)
    assert sm.sans(data["tls.crt"]) == SERVICE_NAMES | {"127.0.0.1"}
    # Every webhook of the configuration trusts exactly the new CA.
    bundles = sm.ca_bundles(kubectl)
    assert bundles, "the webhook configuration has no webhooks"
    for bundle in bundles:
        assert [sm.same_cert(c, data["ca.crt"]) for c in bundle] == [True], bundle
    # The port serves the Secret's pair, and the Secret's CA verifies it for 127.0.0.1.
    assert sm.same_cert(sm.served_certificate(server.port), data["tls.crt"])
    sm.handshake_verified(server.port, data["ca.crt"])

    # The API server picks the caBundle up asynchronously; after that every pod is injected.
    eventually(lambda: injected_pod(kubectl), 30, "a pod injected through the new caBundle")
    stream = PodStream(kubectl, APP_NAMESPACE, IMAGE, "first")
    for _ in range(5):
        stream.create_one()
    assert not stream.errors, stream.errors
    assert [r[2] for r in stream.results] == [[CREDENTIAL]] * 5
    assert [r[3] for r in stream.results] == [CREDENTIAL] * 5
    logs = server.logs()
    assert '"serving certificate issued"' in logs
    assert '"caBundle updated"' in logs


def delete_secret(kubectl: Kubectl, before: dict[str, bytes]) -> None:
    kubectl("delete", "secret", sm.TLS_SECRET, "-n", sm.NAMESPACE)


def plant_near_expiry_serving_cert(kubectl: Kubectl, before: dict[str, bytes]) -> None:
    """Same CA, a serving cert with a sixth of its life left: past the two-thirds mark."""
    cert, key = sm.dated_pair(
        not_before=sm.expiring_hours_ago(5),
        not_after=sm.in_hours(1),
        hosts=sorted(SERVICE_NAMES | {"127.0.0.1"}),
        ca=(before["ca.crt"], before["ca.key"]),
    )
    sm.plant(kubectl, {"tls.crt": cert, "tls.key": key})


def plant_expired_ca(kubectl: Kubectl, before: dict[str, bytes]) -> None:
    """A CA and serving pair that both expired an hour ago, e.g. restored from an old backup."""
    ca = sm.dated_pair(not_before=sm.expiring_hours_ago(48), not_after=sm.expiring_hours_ago(1))
    cert, key = sm.dated_pair(
        not_before=sm.expiring_hours_ago(47),
        not_after=sm.expiring_hours_ago(1),
        hosts=sorted(SERVICE_NAMES | {"127.0.0.1"}),
        ca=ca,
    )
    sm.plant(kubectl, {"ca.crt": ca[0], "ca.key": ca[1], "tls.crt": cert, "tls.key": key})


ROTATIONS: dict[str, tuple[Callable[[Kubectl, dict[str, bytes]], None], bool]] = {
    # name: (how to force it, whether a new CA is expected)
    "secret-deleted": (delete_secret, True),
    "serving-cert-near-expiry": (plant_near_expiry_serving_cert, False),
    "ca-expired": (plant_expired_ca, True),
}


@pytest.mark.parametrize("rotation", list(ROTATIONS))
def test_forced_rotation_keeps_admissions_working_without_restart(
    installation: Installation, rotation: str
) -> None:
    kubectl, server = installation.kubectl, installation.server
    force, new_ca_expected = ROTATIONS[rotation]
    eventually(lambda: injected_pod(kubectl), 30, "pullpass to inject before the rotation")
    before = current_pair(kubectl)
    assert sm.same_cert(sm.served_certificate(server.port), before["tls.crt"])
    reloads_before = sm.metric(
        server.metrics_text(), "pullpass_certificate_reloads_total", result="ok"
    )

    stream = PodStream(kubectl, APP_NAMESPACE, IMAGE, rotation).start()
    try:
        eventually(lambda: len(stream.results) >= 3, 30, "the first pods of the stream")
        force(kubectl, before)

        def rotated() -> dict[str, bytes] | None:
            data = sm.secret_data(kubectl)
            if data is None or sm.same_cert(data["tls.crt"], before["tls.crt"]):
                return None
            return (
                data if sm.same_cert(sm.served_certificate(server.port), data["tls.crt"]) else None
            )

        after = eventually(rotated, 30, f"a new serving cert in use ({rotation})", every=0.2)
        switched = time.monotonic()
        eventually(
            lambda: (
                time.monotonic() - switched >= AFTER_SWITCH_SECONDS
                and stream.created_since(switched) >= AFTER_SWITCH_PODS
            ),
            60,
            "pods created after the switch",
        )
    finally:
        stream.stop()

    # Admissions kept working: every pod of the stream was created and injected.
    assert not stream.errors, stream.errors
    missed = [name for _, name, secrets, _ in stream.results if secrets != [CREDENTIAL]]
    assert not missed, f"{len(missed)} of {len(stream.results)} pods were not injected: {missed}"
    assert all(note == CREDENTIAL for *_, note in stream.results)
    # No restart: same process, never started again.
    assert server.running(), server.component.tail()
    assert server.component.process is not None
    assert server.component.process.pid == installation.pid
    assert server.starts == 1
    assert (
        sm.metric(server.metrics_text(), "pullpass_certificate_reloads_total", result="ok")
        > reloads_before
    )
    # The new pair is sound, and the API server's trust moved with it.
    new_ca = x509.load_pem_x509_certificate(after["ca.crt"])
    x509.load_pem_x509_certificate(after["tls.crt"]).verify_directly_issued_by(new_ca)
    assert sm.sans(after["tls.crt"]) == SERVICE_NAMES | {"127.0.0.1"}
    sm.handshake_verified(server.port, after["ca.crt"])
    for bundle in sm.ca_bundles(kubectl):
        assert sm.same_cert(bundle[0], after["ca.crt"]), "the new CA must come first"
        for cert in bundle:
            assert x509.load_pem_x509_certificate(cert).not_valid_after_utc > sm.in_hours(0)
        if new_ca_expected:
            assert not sm.same_cert(after["ca.crt"], before["ca.crt"])
        else:
            assert sm.same_cert(after["ca.crt"], before["ca.crt"])
        if rotation == "secret-deleted":
            # The old CA stays trusted until it expires: replicas still serving it keep working.
            assert any(sm.same_cert(c, before["ca.crt"]) for c in bundle), "old CA dropped"
    print(
        f"\n{rotation}: {len(stream.results)} pods, "
        f"{stream.created_since(switched)} after the switch, all injected, pid unchanged"
    )


def test_a_second_replica_converges_on_the_same_pair_through_a_rotation(
    installation: Installation,
    control_plane: ControlPlane,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    kubectl, first = installation.kubectl, installation.server
    objects = render({}, release=sm.RELEASE, namespace=sm.NAMESPACE)
    second = sm.start_pullpass(
        control_plane, kubectl, objects, tmp_path_factory.mktemp("replica"), register=False
    )
    try:

        def both_serve(pair: dict[str, bytes]) -> bool:
            return all(
                sm.same_cert(sm.served_certificate(server.port), pair["tls.crt"])
                for server in (first, second)
            )

        before = current_pair(kubectl)
        assert both_serve(before), "a starting replica must take the Secret's pair, not make one"
        delete_secret(kubectl, before)

        def rotated() -> dict[str, bytes] | None:
            data = sm.secret_data(kubectl)
            if data is None or sm.same_cert(data["tls.crt"], before["tls.crt"]):
                return None
            return data if both_serve(data) else None

        after = eventually(rotated, 30, "both replicas serving the new pair", every=0.2)
        # One new CA, trusted once: both replicas did not each make and publish their own.
        for bundle in sm.ca_bundles(kubectl):
            assert sm.same_cert(bundle[0], after["ca.crt"])
            assert not [c for c in bundle[1:] if sm.same_cert(c, after["ca.crt"])]
        eventually(lambda: injected_pod(kubectl), 30, "a pod injected after the rotation")
        assert second.running(), second.component.tail()
    finally:
        second.stop()
