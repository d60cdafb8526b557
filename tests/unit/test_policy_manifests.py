"""Policy mode's objects: the warnings policy is optional; the match conditions can be evaluated
where the API server evaluates them."""

from app.core.policy.manifests import MAY_WARN, UNCOVERED, manifests


def kinds(objects: list[dict[str, object]]) -> list[str]:
    return [str(o["kind"]) for o in objects]


def test_without_warnings_there_is_no_validating_policy() -> None:
    full, lean = manifests("creds", "team"), manifests("creds", "team", warnings=False)
    assert "ValidatingAdmissionPolicy" in kinds(full)
    assert not any(k.startswith("ValidatingAdmissionPolicy") for k in kinds(lean))
    assert lean == full[: len(lean)]


def test_match_conditions_read_no_namespace_object() -> None:
    """The API server evaluates match conditions without `namespaceObject`: reading it is an
    error, and with failurePolicy Ignore the policy is then skipped (the pod gets nothing). Only
    the shared policy has one: it skips covered namespaces."""
    conditions = {
        str(p["metadata"]["name"]): p["spec"]["matchConditions"]
        for p in manifests("creds", "team")
        if p["kind"] == "MutatingAdmissionPolicy"
    }
    assert conditions == {"pullpass-namespace": [], "pullpass-shared": [UNCOVERED]}
    [warnings] = [p for p in manifests("creds", "team") if p["kind"] == "ValidatingAdmissionPolicy"]
    assert warnings["spec"]["matchConditions"] == [MAY_WARN]
    for condition in (UNCOVERED, MAY_WARN):
        assert "namespaceObject" not in condition["expression"]
