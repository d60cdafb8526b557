"""10. Warnings: pullpass's admission warnings reach kubectl's stderr."""

from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.kit import objects
from tests.kit.kubectl import Passwords, as_json, create_namespace, docker_registry_secret

REGISTRY = "registry.warn.example"


def test_out_of_scope_credential_warns_on_kubectl_stderr(
    kubectl: Kubectl, pullpass: Pullpass, passwords: Passwords
) -> None:
    owner = create_namespace(kubectl, "e2e-warn-owner")
    docker_registry_secret(kubectl, passwords, owner, "warncred", REGISTRY)
    namespace = create_namespace(kubectl, "e2e-warn")
    manifest = objects.pod(namespace, f"{REGISTRY}/team/app:1", name="warned")

    done = kubectl("apply", "-f", "-", input=as_json(manifest))

    warnings = [line for line in done.stderr.splitlines() if line.startswith("Warning:")]
    assert any(REGISTRY in line for line in warnings), done.stderr
    stored = kubectl.json("get", "pod", "warned", "-n", namespace)
    assert "imagePullSecrets" not in stored["spec"], "out of scope: nothing to add"

    # A pod whose registry has no credential anywhere gets no warning.
    quiet = kubectl(
        "apply",
        "-f",
        "-",
        input=as_json(objects.pod(namespace, "registry.nobody.example/x:1", name="quiet")),
    )
    assert "Warning:" not in quiet.stderr
