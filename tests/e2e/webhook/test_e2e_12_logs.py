"""12. Logs: no credential material in pullpass's logs over the whole suite.

Runs last (file order): every password the suite handed to kubectl is looked for in everything
pullpass wrote, across its restarts.
"""

import json

from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.kit import objects
from tests.kit.kubectl import (
    Passwords,
    apply_pod,
    create_namespace,
    docker_registry_secret,
    pull_secrets,
)


def test_no_password_in_pullpass_logs(
    kubectl: Kubectl, pullpass: Pullpass, passwords: Passwords
) -> None:
    # Some traffic of its own, so the test means something when run alone.
    namespace = create_namespace(kubectl, "e2e-logs")
    docker_registry_secret(kubectl, passwords, namespace, "logcred", "quay.io")
    assert pull_secrets(apply_pod(kubectl, objects.pod(namespace, "quay.io/x/y:1", name="p"))) == [
        "logcred"
    ]

    logs = pullpass.logs()
    # One log across restarts (test 7 restarts pullpass): every run is in what we search.
    assert logs.count("==== pullpass start") == pullpass.starts >= 1
    records = [line for line in logs.splitlines() if line.startswith("{")]
    assert records, "pullpass wrote no JSON log lines: the capture is broken"
    levels = {json.loads(line)["level"] for line in records}  # every record is a JSON line
    assert levels <= {"debug", "info", "warning", "error", "critical"}, levels

    needles = passwords.needles()
    assert len(needles) >= 2
    leaked = [needle for needle in needles if needle in logs]
    assert leaked == [], f"credential material in pullpass logs: {leaked}"
