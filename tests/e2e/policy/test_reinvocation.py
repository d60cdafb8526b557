"""Policy mode and a later mutation: its policies run once (`reinvocationPolicy: Never`).

The MutatingAdmissionPolicies run before every mutating webhook. A webhook that then adds a
container (a sidecar injector) does not bring them back: the pod keeps the names its own images
got, and the added image's credential is not added, where webhook mode's reinvocation adds it
(tests/e2e/webhook/test_e2e_11_reinvocation.py). An image already in the pod is served as
before, whatever the webhook does after.
"""

from tests.e2e.policy.fixtures import Object, PolicyCluster, namespace, secret
from tests.kit.eventually import eventually
from tests.kit.objects import pod
from tests.kit.sidecar import SELECTOR, SIDECAR_IMAGE

NAMESPACE = "pm-reinvoke"


def test_a_later_webhooks_image_gets_no_name(
    policy_mode: PolicyCluster, sidecar_webhook: list[int]
) -> None:
    policy_mode.write(
        [
            namespace(NAMESPACE, labels=SELECTOR),
            secret(NAMESPACE, "app-cred", "quay.io"),
            secret(NAMESPACE, "sidecar-cred", "sidecar.registry.example"),
        ]
    )

    def stored(manifest: Object) -> Object:
        return policy_mode.dry_run([manifest])[(NAMESPACE, "p")]

    app = pod(NAMESPACE, "quay.io/team/app:1", name="p")
    eventually(
        lambda: len(stored(app)["spec"]["containers"]) == 2,
        30,
        "the sidecar webhook to be called",
        every=0.3,
    )
    created = stored(app)
    assert [c["image"] for c in created["spec"]["containers"]] == [
        "quay.io/team/app:1",
        SIDECAR_IMAGE,
    ]
    assert created["spec"]["imagePullSecrets"] == [{"name": "app-cred"}]
    assert created["metadata"]["annotations"]["pullpass.io/injected"] == "app-cred"

    both = pod(NAMESPACE, "quay.io/team/app:1", SIDECAR_IMAGE, name="p")
    names = [s["name"] for s in stored(both)["spec"]["imagePullSecrets"]]
    assert names == ["app-cred", "sidecar-cred"]
    assert sidecar_webhook, "the sidecar webhook was never called"
