"""Workloads, not only bare pods: a Deployment applied with kubectl and a small Helm chart
installed with `helm install` run their pods from the private registry; neither lists a pull
secret."""

from collections.abc import Callable
from pathlib import Path

from localcluster.kubectl import Kubectl
from localcluster.release import Release
from tests.e2e.node.actions import PULLED, deployment, events, pods_of, wait_running, write_manifest
from tests.kit.kubectl import pull_secrets

TESTAPP = Path(__file__).parent / "testapp"


def assert_pulled_and_running(
    kubectl: Kubectl, namespace: str, selector: str, image: str, replicas: int
) -> None:
    pods = pods_of(kubectl, namespace, selector)
    assert len(pods) == replicas, [p["metadata"]["name"] for p in pods]
    for pod in pods:
        assert pull_secrets(pod) == ["registry"], pod["metadata"]["name"]
        wait_running(kubectl, namespace, pod["metadata"]["name"])
    assert any(f'{PULLED} "{image}"' in e for e in events(kubectl, namespace)), events(
        kubectl, namespace
    )


def test_deployment_applied_with_kubectl_runs_from_the_private_registry(
    pullpass: Release,
    kubectl: Kubectl,
    namespace_with_credential: Callable[[str], tuple[str, str]],
    tmp_path: Path,
) -> None:
    namespace, image = namespace_with_credential("deploy")
    manifest = write_manifest(tmp_path, "deployment.yml", deployment(namespace, "web", image, 2))

    kubectl("apply", "-f", str(manifest))
    kubectl("rollout", "status", "deployment/web", "-n", namespace, "--timeout=120s")

    assert_pulled_and_running(kubectl, namespace, "app=web", image, 2)


def test_helm_chart_of_an_app_runs_from_the_private_registry(
    pullpass: Release,
    kubectl: Kubectl,
    namespace_with_credential: Callable[[str], tuple[str, str]],
) -> None:
    namespace, image = namespace_with_credential("helm")

    pullpass.node.helm(
        "install", "shop", str(TESTAPP), "--namespace", namespace,
        "--set", f"image={image}", "--set", "replicas=1", "--wait", "--timeout=120s",
    )  # fmt: skip

    assert_pulled_and_running(kubectl, namespace, "app.kubernetes.io/instance=shop", image, 1)
    pod = pods_of(kubectl, namespace, "app.kubernetes.io/instance=shop")[0]["metadata"]["name"]
    assert kubectl("logs", pod, "-n", namespace).stdout == "hello from testapp\n"
