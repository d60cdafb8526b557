"""Response helpers that read like the decision they carry."""

import base64
from collections.abc import Sequence

import orjson

from app.core.admission.review import API_VERSION, KIND, AdmissionReview, PatchOperation, Response


def allowed(uid: str) -> Response:
    return {"uid": uid, "allowed": True}


def allowed_with_warnings(uid: str, warnings: Sequence[str]) -> Response:
    response = allowed(uid)
    if warnings:
        response["warnings"] = list(warnings)
    return response


def patched(
    uid: str,
    operations: Sequence[PatchOperation],
    *,
    warnings: Sequence[str] = (),
    audit: dict[str, str] | None = None,
) -> Response:
    response = allowed_with_warnings(uid, warnings)
    response["patchType"] = "JSONPatch"
    response["patch"] = base64.b64encode(orjson.dumps(list(operations))).decode()
    if audit:
        response["auditAnnotations"] = audit
    return response


def review(response: Response) -> bytes:
    answer: AdmissionReview = {"apiVersion": API_VERSION, "kind": KIND, "response": response}
    return orjson.dumps(answer)


def error(message: str) -> bytes:
    """The JSON body of a 4xx answer."""
    return orjson.dumps({"error": message})
