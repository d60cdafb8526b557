"""A copy never takes a name held by a Secret pullpass does not manage, whatever its type."""

import base64

import pytest

from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.kit import objects
from tests.kit.control_plane import CREDENTIALS_NAMESPACE
from tests.kit.eventually import eventually
from tests.kit.kubectl import (
    Passwords,
    apply_pod,
    create_namespace,
    docker_registry_secret,
    pull_secrets,
)

IMAGE = "held.registry.example/team/app:1"


# The apiserver accepts any JSON object as a .dockerconfigjson; the kubelet cannot read this one.
UNREADABLE = base64.b64encode(b'{"auths": 5}').decode()
HOLDERS = {
    "opaque": ("Opaque", "mine", "a2VlcC1tZQ=="),
    "unreadable": ("kubernetes.io/dockerconfigjson", ".dockerconfigjson", UNREADABLE),
}


@pytest.mark.parametrize("holder", sorted(HOLDERS))
def test_a_secret_with_a_source_name_is_a_conflict(
    kubectl: Kubectl, pullpass: Pullpass, passwords: Passwords, holder: str
) -> None:
    name, project = f"shared-{holder}", f"held-{holder}"
    labels = {"pullpass.io/project": project}
    taken = create_namespace(kubectl, f"e2e-held-{holder}-taken", labels=labels)
    free = create_namespace(kubectl, f"e2e-held-{holder}-free", labels=labels)
    secret_type, key, value = HOLDERS[holder]
    kubectl.apply(
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": name, "namespace": taken},
            "type": secret_type,
            "data": {key: value},
        }
    )
    docker_registry_secret(kubectl, passwords, CREDENTIALS_NAMESPACE, name, "held.registry.example")
    kubectl("label", "secret", name, "-n", CREDENTIALS_NAMESPACE, f"pullpass.io/project={project}")

    # The free namespace gets the copy and its pods the name; the taken one gets neither.
    eventually(
        lambda: kubectl("get", "secret", name, "-n", free, check=False).returncode == 0,
        10,
        "the copy in the free namespace",
    )
    assert pull_secrets(apply_pod(kubectl, objects.pod(free, IMAGE, name="p"))) == [name]
    assert pull_secrets(apply_pod(kubectl, objects.pod(taken, IMAGE, name="p"))) == [], (
        pullpass.logs()[-3000:]
    )

    def conflict_event() -> bool:
        events = kubectl.json("get", "events", "-n", taken)["items"]
        return any(e["reason"] == "CredentialConflict" and name in e["message"] for e in events)

    eventually(conflict_event, 10, "a CredentialConflict event")
    assert "event not recorded" not in pullpass.logs()
    mine = kubectl.json("get", "secret", name, "-n", taken)
    assert (mine["type"], mine["data"]) == (secret_type, {key: value})
    assert "pullpass.io/managed-by" not in (mine["metadata"].get("labels") or {})
