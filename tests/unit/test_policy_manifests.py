"""Policy mode's objects: the warnings policy is optional; each mutating policy's match
condition can be evaluated where the API server evaluates it."""

from app.core.policy import cel
from app.core.policy.manifests import UNCOVERED, condition_entry, manifests


def kinds(objects: list[dict[str, object]]) -> list[str]:
    return [str(o["kind"]) for o in objects]


def test_without_warnings_there_is_no_validating_policy() -> None:
    full, lean = manifests("creds", "team"), manifests("creds", "team", warnings=False)
    assert "ValidatingAdmissionPolicy" in kinds(full)
    assert not any(k.startswith("ValidatingAdmissionPolicy") for k in kinds(lean))
    assert lean == full[: len(lean)]


def test_match_conditions_read_no_namespace_object() -> None:
    """The API server evaluates match conditions without `namespaceObject`: reading it is an
    error, and with failurePolicy Ignore the policy is then skipped (the pod gets nothing)."""
    conditions = {
        str(p["metadata"]["name"]): p["spec"]["matchConditions"]
        for p in manifests("creds", "team")
        if p["kind"] == "MutatingAdmissionPolicy"
    }
    assert conditions == {
        "pullpass-namespace": [
            condition_entry(
                cel.could_add("params.spec.credentials", "[params.spec.credentialsIndex]")
            )
        ],
        "pullpass-shared": [condition_entry(UNCOVERED)],
    }
    assert not any("namespaceObject" in c["expression"] for v in conditions.values() for c in v)
