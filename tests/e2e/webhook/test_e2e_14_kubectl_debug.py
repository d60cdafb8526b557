"""14. `kubectl debug`: the ephemeral container is admitted unchanged, with a warning naming the
credential its image needs and the pod does not list (its pull secrets cannot change now)."""

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


def test_kubectl_debug_warns_about_the_credential_the_pod_lacks(
    kubectl: Kubectl, pullpass: Pullpass, passwords: Passwords
) -> None:
    namespace = create_namespace(kubectl, "e2e-debug")
    docker_registry_secret(kubectl, passwords, namespace, "appcred", "quay.io")
    pod = apply_pod(kubectl, objects.pod(namespace, "quay.io/team/app:1", name="target"))
    assert pull_secrets(pod) == ["appcred"]
    docker_registry_secret(kubectl, passwords, namespace, "debugcred", "tools.debug.example")

    done = kubectl(
        "debug",
        "target",
        "-n",
        namespace,
        "--image=tools.debug.example/shell:1",
        "--container=dbg",
        "--profile=general",
    )

    warnings = [line for line in done.stderr.splitlines() if line.startswith("Warning:")]
    assert any("debugcred" in w and "dbg" in w for w in warnings), done.stderr
    stored = kubectl.json("get", "pod", "target", "-n", namespace)
    assert [c["name"] for c in stored["spec"]["ephemeralContainers"]] == ["dbg"]
    assert pull_secrets(stored) == ["appcred"], "no patch: pull secrets are unchanged"

    # An image the pod's own credentials serve needs nothing: no warning.
    quiet = kubectl(
        "debug", "target", "-n", namespace, "--image=quay.io/team/debug:1", "--container=dbg2"
    )
    assert "pullpass" not in quiet.stderr
