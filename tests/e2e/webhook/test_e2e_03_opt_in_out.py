"""3. Opt-in and opt-out: only enabled namespaces, never pods labelled inject=disabled."""

from localcluster.kubectl import Kubectl
from localcluster.webhook import INJECT_LABEL, Pullpass
from tests.kit import objects
from tests.kit.kubectl import (
    Passwords,
    apply_pod,
    create_namespace,
    docker_registry_secret,
    pod_annotations,
    pull_secrets,
)

IMAGE = "quay.io/team/app:2"


def test_namespace_not_enabled_is_left_untouched(
    kubectl: Kubectl, pullpass: Pullpass, passwords: Passwords
) -> None:
    plain = create_namespace(kubectl, "e2e-not-enabled", enabled=False)
    docker_registry_secret(kubectl, passwords, plain, "quaycred", "quay.io")
    # A namespace labelled with another value is not enabled either.
    other = create_namespace(
        kubectl, "e2e-inject-other", enabled=False, labels={INJECT_LABEL: "yes"}
    )
    docker_registry_secret(kubectl, passwords, other, "quaycred", "quay.io")

    for namespace in (plain, other):
        pod = apply_pod(kubectl, objects.pod(namespace, IMAGE, name="app"))
        assert pull_secrets(pod) == [], namespace
        assert "pullpass.io/injected" not in pod_annotations(pod)


def test_pod_labelled_disabled_is_left_untouched(
    kubectl: Kubectl, pullpass: Pullpass, passwords: Passwords
) -> None:
    namespace = create_namespace(kubectl, "e2e-opt-out")
    docker_registry_secret(kubectl, passwords, namespace, "quaycred", "quay.io")

    opted_out = apply_pod(
        kubectl,
        objects.pod(namespace, IMAGE, name="opted-out", labels={INJECT_LABEL: "disabled"}),
    )
    control = apply_pod(kubectl, objects.pod(namespace, IMAGE, name="control"))

    assert pull_secrets(opted_out) == []
    assert "pullpass.io/injected" not in pod_annotations(opted_out)
    assert pull_secrets(control) == ["quaycred"]


def test_enabling_a_namespace_later_takes_effect(
    kubectl: Kubectl, pullpass: Pullpass, passwords: Passwords
) -> None:
    namespace = create_namespace(kubectl, "e2e-enable-later", enabled=False)
    docker_registry_secret(kubectl, passwords, namespace, "quaycred", "quay.io")
    before = apply_pod(kubectl, objects.pod(namespace, IMAGE, name="before"))
    kubectl("label", "namespace", namespace, f"{INJECT_LABEL}=enabled")
    after = apply_pod(kubectl, objects.pod(namespace, IMAGE, name="after"))

    assert pull_secrets(before) == []
    assert pull_secrets(after) == ["quaycred"]
