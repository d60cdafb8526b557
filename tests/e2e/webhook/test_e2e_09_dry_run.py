"""9. Dry run: `kubectl apply --dry-run=server` shows the injection and stores nothing."""

import yaml

from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.kit import objects
from tests.kit.kubectl import (
    Passwords,
    as_json,
    create_namespace,
    docker_registry_secret,
    pull_secrets,
)


def test_server_dry_run_shows_injection_and_stores_nothing(
    kubectl: Kubectl, pullpass: Pullpass, passwords: Passwords
) -> None:
    namespace = create_namespace(kubectl, "e2e-dry-run")
    docker_registry_secret(kubectl, passwords, namespace, "testquay", "quay.io")
    manifest = objects.pod(namespace, "quay.io/team/dry:1", name="dry")

    shown = kubectl("apply", "--dry-run=server", "-o", "yaml", "-f", "-", input=as_json(manifest))

    assert pull_secrets(yaml.safe_load(shown.stdout)) == ["testquay"]
    missing = kubectl("get", "pod", "dry", "-n", namespace, check=False)
    assert missing.returncode != 0
    assert "NotFound" in missing.stderr or "not found" in missing.stderr
