"""8. API server restart: pullpass's /readyz reflects the outage, watches recover, pods correct."""

from e2e.actions import (
    Passwords,
    apply_pod,
    create_namespace,
    docker_registry_secret,
    eventually,
    pod_manifest,
    pull_secrets,
    unique,
)
from localcluster.control_plane import ControlPlane
from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass


def test_apiserver_and_etcd_restart(
    kubectl: Kubectl, control_plane: ControlPlane, pullpass: Pullpass, passwords: Passwords
) -> None:
    namespace = create_namespace(kubectl, "e2e-restart")
    docker_registry_secret(kubectl, passwords, namespace, "before", "quay.io")
    image, later_image = "quay.io/team/restart:1", "registry.after.example/team/app:1"
    assert pullpass.readyz() == 200

    control_plane.stop_api()
    try:
        pullpass.wait_readyz(503, timeout=30)
        assert pullpass.running(), "pullpass must survive the outage"
    finally:
        control_plane.start_api()
    pullpass.wait_readyz(200, timeout=60)

    # Old state is still right, and the watches see what changed after the restart.
    assert pull_secrets(apply_pod(kubectl, pod_manifest(namespace, "old", image))) == ["before"]
    docker_registry_secret(kubectl, passwords, namespace, "after", "registry.after.example")
    later = create_namespace(kubectl, "e2e-restart-new")
    docker_registry_secret(kubectl, passwords, later, "fresh", "quay.io")

    def stored(ns: str, img: str) -> list[str]:
        return pull_secrets(apply_pod(kubectl, pod_manifest(ns, unique("p"), img)))

    eventually(lambda: stored(namespace, later_image) == ["after"], 10, "the new credential")
    eventually(lambda: stored(later, image) == ["fresh"], 10, "the new namespace")
