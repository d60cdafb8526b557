"""Where a covered namespace's rules live: the shared object holds its whole resolution (the
shared policy decides its pods alone, one policy run each), or past the shared object's budget an
object of its own does (the namespace's policy adds the names, the shared one adds nothing).
Either way its pods get the webhook's names, in the webhook's order."""

from app.core.policy.manifests import NAMESPACE_OBJECT, SHARED_OBJECT
from tests.e2e.policy.fixtures import CREDENTIALS_NAMESPACE, PolicyCluster, namespace, secret
from tests.kit.objects import pod

NS = "pm-held"
PROJECT = {"pullpass.io/project": "pm-held-project"}
IMAGES = ["quay.io/team/a:1", "ghcr.io/team/b:2", "nginx:1.27", "r.held.example/c", "other.io/d"]


def test_held_and_own_rules_decide_alike(policy_mode: PolicyCluster) -> None:
    objects = [
        namespace(NS, labels=PROJECT),
        secret(NS, "own", "quay.io", "https://index.docker.io/v1/"),
        # The same name as a project source: a conflict, which only the namespace's rules see.
        secret(NS, "shared-name", "ghcr.io"),
        secret(CREDENTIALS_NAMESPACE, "shared-name", "r.held.example", labels=PROJECT),
        secret(CREDENTIALS_NAMESPACE, "pm-held-source", "r.held.example", labels=PROJECT),
    ]
    pods = [pod(NS, image, name=f"p{i}") for i, image in enumerate(IMAGES)]

    def decided() -> list[list[str]]:
        return [policy_mode.secrets_of(p) for p in pods]

    def stored() -> tuple[bool, bool]:
        shared = policy_mode.kubectl.json(
            "get", "pullpassrules", SHARED_OBJECT, "-n", CREDENTIALS_NAMESPACE
        )
        own = policy_mode.kubectl(
            "get", "pullpassrules", NAMESPACE_OBJECT, "-n", NS, check=False
        ).returncode
        return NS in shared["spec"]["held"], own == 0

    policy_mode.write(objects)
    index = policy_mode.index()
    expected = [policy_mode.webhook_says(p, index) for p in pods]
    # The namespace's shared-name shadows the project's: r.held.example has the other source.
    assert expected == [["own"], ["shared-name"], ["own"], ["pm-held-source"], []]
    assert stored() == (True, False)
    assert decided() == expected
    policy_mode.write(objects, held_bytes=0)
    assert stored() == (False, True)
    assert decided() == expected
    policy_mode.write(objects)
    assert stored() == (True, False)
