"""A malformed object raises an error that names what was read: a Pod or workload for audit,
repair and `explain`, which decode no AdmissionReview; the AdmissionReview for the webhook.

The webhook still answers 400 either way (a Pod inside a review is the client's mistake).
"""

import orjson
import pytest

from app.core.admission.decode import BadReview, decode
from app.core.admission.pod import read_pod
from app.core.audit.report import audit_object
from app.core.bad_object import BadObject
from app.core.credentials.scope import ScopeSettings
from app.shell.cluster.index import Index
from app.shell.web.server import review_bytes

INDEX = Index(ScopeSettings("home"), fixed=True)


def test_a_pod_read_outside_a_review_is_no_bad_review() -> None:
    with pytest.raises(BadObject) as raised:
        read_pod({"spec": {"containers": 3}}, "a")
    assert not isinstance(raised.value, BadReview)
    assert (raised.value.kind, raised.value.problem) == ("Pod", "spec.containers must be a list")
    assert str(raised.value) == "Pod: spec.containers must be a list"


def test_audit_names_the_workload_it_read() -> None:
    deployment = {"kind": "Deployment", "metadata": {"name": "d"}, "spec": {"template": []}}
    with pytest.raises(BadObject) as raised:
        audit_object(deployment, INDEX)
    assert not isinstance(raised.value, BadReview)
    assert str(raised.value) == "Deployment default/d: spec.template must be an object"


def test_a_review_error_names_the_review() -> None:
    with pytest.raises(BadReview, match=r"^AdmissionReview: body must be a JSON object"):
        decode(b"[]")


def test_the_webhook_answers_400_naming_the_pod_in_a_review() -> None:
    review = {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "u-1",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "operation": "CREATE",
            "namespace": "a",
            "object": {"spec": {"containers": 3}},
        },
    }
    status, body = review_bytes(orjson.dumps(review), INDEX)
    assert status == 400
    assert orjson.loads(body) == {"error": "Pod: spec.containers must be a list"}
