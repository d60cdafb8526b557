"""`pullpass explain`: what the webhook would add to a pod, and why, per container.

It runs the webhook's own `handle` on a synthetic review, so its answer cannot drift from what
the server does.
"""

import argparse
import sys
from typing import Any

import orjson

from app.core import labels
from app.core.admission.handle import handle
from app.core.admission.pod import PodView, read_pod
from app.core.admission.review import Request
from app.core.bad_object import BadObject
from app.core.credentials.scope import distrusted_project
from app.core.credentials.serving_mode import WEBHOOK_ONLY, Modes, serving
from app.shell.cli.sources import build_index, load
from app.shell.cli.usage import UsageError
from app.shell.cluster.index import Index
from app.shell.cluster.objects import BadInput, read_documents


def explain(args: argparse.Namespace) -> int:
    pod_object, pod = _read_pod(args.pod, args.namespace or "default")
    snapshot = load(args, "explain")
    absent = pod.namespace not in {n.name for n in snapshot.namespaces}
    index = build_index(args, snapshot, [pod.namespace] if absent else [])
    report = build_report(pod_object, pod, index, Modes.named(args.serving))
    if args.output == "json":
        sys.stdout.write(orjson.dumps(report, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(render_text(report, pod, index))
    return 0


def build_report(
    pod_object: dict[str, Any], pod: PodView, index: Index, modes: Modes = WEBHOOK_ONLY
) -> dict[str, Any]:
    request: Request = {
        "uid": "explain",
        "kind": {"group": "", "version": "v1", "kind": "Pod"},
        "operation": "CREATE",
        "namespace": pod.namespace,
        "object": pod_object,
    }
    verdict = handle(request, index)
    warnings = list(verdict.response.get("warnings", []))
    table = index.table(pod.namespace)
    namespace = next((n for n in index.namespaces() if n.name == pod.namespace), None)
    distrusted = namespace and distrusted_project(namespace, index.settings)
    if distrusted:
        warnings.append(distrusted)
    if table is None:
        warnings.append(f"namespace {pod.namespace} is not labelled {labels.INJECT}=enabled")
    elif labels.opted_out(pod.labels):
        warnings.append(f"the pod is labelled {labels.INJECT}=disabled")
    containers = []
    for container in pod.containers:
        found = table.match(container.image) if table is not None else None
        image = found.image if found is not None else None
        containers.append(
            {
                "name": container.name,
                "image": container.image,
                "registry": image.domain if image is not None else None,
                "credentials": [
                    {"secret": m.credential.secret, "key": m.key, "scope": m.credential.scope}
                    for m in (found.matches if found is not None else ())
                ],
            }
        )
    return {
        "namespace": pod.namespace,
        "servedBy": serving(index.namespace(pod.namespace), modes),
        "imagePullSecrets": list(verdict.added),
        "containers": containers,
        "warnings": warnings,
    }


def render_text(report: dict[str, Any], pod: PodView, index: Index) -> str:
    table = index.table(pod.namespace)
    sources = {c.secret: c.source.ref for c in (table.credentials if table else ()) if c.copied}
    lines = [f"Pod {report['namespace']}/{pod.name or '(unnamed)'}"]
    lines.append(f"  served by: {report['servedBy']}")
    for c in report["containers"]:
        lines.append(f"  container {c['name']}: {c['image']}")
        lines.append(f"    registry: {c['registry'] or '(invalid reference)'}")
        for m in c["credentials"]:
            origin = f", copy of {sources[m['secret']]}" if m["secret"] in sources else ""
            lines.append(f"    uses {m['secret']} ({m['scope']}{origin}) via key {m['key']}")
        if not c["credentials"]:
            lines.append("    no credential in scope applies")
    added = ", ".join(report["imagePullSecrets"]) or "nothing"
    lines.append(f"imagePullSecrets to add: {added}")
    lines.extend(f"warning: {w}" for w in report["warnings"])
    return "\n".join(lines) + "\n"


def _read_pod(path: str, namespace: str) -> tuple[dict[str, Any], PodView]:
    try:
        documents = read_documents(path)
    except BadInput as error:
        raise UsageError(f"pullpass explain: {error}") from None
    pods = [d for d in documents if d.get("kind") == "Pod"]
    if len(pods) != 1:
        raise UsageError(f"pullpass explain: {path}: expected one Pod, found {len(pods)}")
    try:
        return pods[0], read_pod(pods[0], namespace)
    except BadObject as error:
        raise UsageError(f"pullpass explain: {path}: {error}") from None
