"""Health, readiness, metrics, TLS versions, logs and credential hygiene of a running server."""

import json
import socket
import ssl

import httpx
import pytest

from tests.kit.objects import pod, review
from tests.kit.objects_fixture import PASSWORDS
from tests.kit.serving import Server


def test_health_and_readiness(server: Server) -> None:
    assert httpx.get(f"{server.metrics}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.metrics}/readyz").status_code == 200


def test_metrics_count_admissions_by_outcome(server: Server) -> None:
    server.post(review(pod("team-a", "quay.io/x/y")))
    server.post(b"not json")
    text = httpx.get(f"{server.metrics}/metrics").text
    assert 'pullpass_admissions_total{outcome="patched"}' in text
    assert 'pullpass_admissions_total{outcome="rejected"}' in text
    assert "pullpass_admission_duration_seconds_bucket" in text
    assert "pullpass_index_credentials " in text
    assert "pullpass_index_namespaces 5.0" in text


def _handshake(server: Server, version: ssl.TLSVersion) -> bool:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    context.maximum_version = version
    context.set_ciphers("ALL:@SECLEVEL=0")
    port = int(server.base.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        try:
            with context.wrap_socket(raw):
                return True
        except ssl.SSLError:
            return False


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated")  # the point of the test
def test_tls_1_2_or_newer_only(server: Server) -> None:
    assert _handshake(server, ssl.TLSVersion.TLSv1_2)
    assert not _handshake(server, ssl.TLSVersion.TLSv1_1)


def test_one_json_log_line_per_decision_without_credentials(server: Server) -> None:
    sent = review(pod("team-a", "quay.io/x/y"))
    server.post(sent)
    lines = [json.loads(line) for line in server.logs().splitlines() if line.strip()]
    decisions = [e for e in lines if e.get("uid") == sent["request"]["uid"]]
    assert len(decisions) == 1
    assert decisions[0]["outcome"] == "patched"
    assert decisions[0]["added"] == ["quay"]


def test_no_credential_material_in_logs_metrics_or_errors(server: Server) -> None:
    for image in ("quay.io/x/y", "nginx", "gcr.io/a/b", "ghcr.io/x/y", "bad ref"):
        server.post(review(pod("team-a", image)))
    errors = server.post(b'{"apiVersion": 1}').text
    seen = server.logs() + httpx.get(f"{server.metrics}/metrics").text + errors
    for password in PASSWORDS:
        assert password not in seen
    assert "auth" not in errors
