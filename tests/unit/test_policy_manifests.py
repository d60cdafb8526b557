"""Policy mode's objects: the warnings policy is optional; the match conditions can be evaluated
where the API server evaluates them."""

from app.core.policy.manifests import MAY_WARN, manifests


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
    the warnings policy has one; a mutating policy's would convert every pod once more."""
    policies = manifests("creds", "team")
    mutating = [p["spec"] for p in policies if p["kind"] == "MutatingAdmissionPolicy"]
    assert len(mutating) == 2
    assert not any("matchConditions" in spec for spec in mutating)
    [warnings] = [p for p in policies if p["kind"] == "ValidatingAdmissionPolicy"]
    assert warnings["spec"]["matchConditions"] == [MAY_WARN]
    assert "namespaceObject" not in MAY_WARN["expression"]
