"""What every fuzz test checks, and the small cluster they review against.

The invariants come from the spec: no input makes the webhook answer 500 or stop; every 200 is
an AdmissionReview for the request's uid whose patch applies; everything else is a 400 with a
JSON message. `check_body` states them once so each strategy only has to produce bodies.

Examples per test: `PULLPASS_FUZZ_EXAMPLES` (the long run), else each test's CI default.
"""

import base64
import json
import os
from pathlib import Path
from typing import Any

import jsonpatch
import orjson

from app.core.admission.decode import decode
from app.core.admission.handle import handle
from app.core.bad_object import BadObject
from app.core.credentials.scope import ScopeSettings
from app.shell.cluster.index import Index
from app.shell.cluster.objects import load_snapshot
from app.shell.telemetry import metrics
from app.shell.web.server import review_bytes
from tests.kit.objects import namespace, secret

PASSWORDS = ("fz-pw-quay-19af", "fz-pw-hub-77c0", "fz-pw-glob-3e5d", "fz-pw-src-a0b1")
ENABLED = {"pullpass.io/inject": "enabled", "pullpass.io/project": "p1"}

OBJECTS = [
    namespace("creds"),
    namespace("team-a", ENABLED),
    namespace("team-b", {"pullpass.io/inject": "enabled"}),
    namespace("off"),
    secret("team-a", "quay", {"quay.io": ("u", PASSWORDS[0])}),
    secret("team-a", "hub", {"https://index.docker.io/v1/": ("u", PASSWORDS[1])}),
    secret(
        "team-a",
        "globs",
        {"*.corp.example": ("u", PASSWORDS[2]), "registry.example.com:5000/team": ("u", "x")},
        legacy=True,
    ),
    secret("team-b", "ghcr", {"ghcr.io": ("u", "fz-pw-ghcr")}),
    secret("creds", "proj", {"gcr.io": ("u", PASSWORDS[3])}, labels={"pullpass.io/project": "p1"}),
    secret("creds", "all", {"example.com/s": ("u", "y")}, labels={"pullpass.io/scope": "cluster"}),
]
NAMESPACES = ["team-a", "team-b", "off", "nowhere", "creds", ""]


def examples(default: int) -> int:
    """The long run sets PULLPASS_FUZZ_EXAMPLES; CI keeps each test's small default."""
    value = os.environ.get("PULLPASS_FUZZ_EXAMPLES")
    return int(value) if value else default


def build_index(tmp: Path) -> Index:
    """The index exactly as `serve --objects` builds it."""
    path = tmp / "objects.json"
    path.write_text(json.dumps({"apiVersion": "v1", "kind": "List", "items": OBJECTS}))
    settings = ScopeSettings(credentials_namespace="creds", project_label="pullpass.io/project")
    index = Index(settings, fixed=True)
    load_snapshot([str(path)]).fill(index)
    return index


def _errors() -> float:
    """The `error` outcome counts reviews that raised something other than BadObject (a
    BadReview, or the Pod in it): a bug."""
    return metrics.ADMISSIONS.labels("error")._value.get()  # type: ignore[no-any-return]


def check_body(body: bytes, index: Index) -> tuple[int, dict[str, Any]]:
    """Run one body through decode + handle and through the server's byte path; check both."""
    # 1. The pure core: only BadObject may escape, and a 200's review must be usable.
    message = None
    try:
        request = decode(body)
        verdict = handle(request, index)
    except BadObject as error:
        message = str(error)
        request = None
    except RecursionError:
        raise AssertionError("decode/handle recursed too deep on a client's body") from None
    assert message != "", "a BadObject must say what is wrong"

    # 2. The server's byte path (what /mutate returns), with the bug counter watched.
    errors_before = _errors()
    status, out = review_bytes(body, index)
    assert _errors() == errors_before, "review_bytes hit an unexpected exception"
    answer = orjson.loads(out)
    assert isinstance(answer, dict)
    if request is None:
        assert status == 400, (status, answer)
        assert isinstance(answer.get("error"), str), answer
        assert answer["error"], answer
        assert set(answer) == {"error"}, answer
        return status, answer

    assert status == 200, (status, answer)
    assert answer["apiVersion"] == "admission.k8s.io/v1"
    assert answer["kind"] == "AdmissionReview"
    response = answer["response"]
    assert response["uid"] == request["uid"]
    assert response["allowed"] is True
    assert response == orjson.loads(orjson.dumps(verdict.response))
    for warning in response.get("warnings", []):
        assert isinstance(warning, str), warning
        assert len(warning) < 120, warning
    if "patch" in response:
        assert response["patchType"] == "JSONPatch"
        operations = json.loads(base64.b64decode(response["patch"], validate=True))
        assert operations, response
        assert all(op["op"] == "add" for op in operations), operations
        obj = request.get("object")
        patched = jsonpatch.apply_patch(obj, operations)  # raises when it does not apply
        check_append_only(obj, patched)
        again = dict(request, object=patched)
        rerun = handle(again, index)  # type: ignore[arg-type]
        assert "patch" not in rerun.response, "reinvocation on its own output patched again"
    return status, answer


def check_append_only(before: Any, after: Any) -> None:
    """Existing pull secrets stay, in order, in front of what was added."""
    old = ((before or {}).get("spec") or {}).get("imagePullSecrets") or []
    new = after["spec"]["imagePullSecrets"]
    assert new[: len(old)] == old, (old, new)
    assert len(new) > len(old)
