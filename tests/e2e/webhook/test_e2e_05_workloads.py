"""5. Workloads: Pods the controller-manager creates for a Deployment get the secrets."""

from typing import Any

from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.kit.eventually import eventually
from tests.kit.kubectl import Passwords, create_namespace, docker_registry_secret


def test_deployment_pods_get_the_secret(
    kubectl: Kubectl, pullpass: Pullpass, passwords: Passwords
) -> None:
    namespace = create_namespace(kubectl, "e2e-workloads")
    docker_registry_secret(kubectl, passwords, namespace, "testquay", "quay.io")
    kubectl(
        "create",
        "deployment",
        "web",
        "-n",
        namespace,
        "--image=quay.io/team/web:4",
        "--image=nginx:1.27",
        "--replicas=2",
    )

    def pods() -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = kubectl.json("get", "pods", "-n", namespace, "-l", "app=web")[
            "items"
        ]
        return items if len(items) == 2 else []

    created = eventually(pods, 60, "the Deployment's two pods", every=0.5)

    for pod in created:
        owner = pod["metadata"]["ownerReferences"][0]
        assert owner["kind"] == "ReplicaSet"
        assert [r["name"] for r in pod["spec"]["imagePullSecrets"]] == ["testquay"]
    template = kubectl.json("get", "deployment", "web", "-n", namespace)["spec"]["template"]
    assert "imagePullSecrets" not in template["spec"], "only pods are mutated, not the template"
