"""`pullpass audit`: what pullpass would change, before a namespace is labelled or after an outage.

Read-only. Every Pod and workload goes through the webhook's own decision (`app.core.audit`),
over the same index that `explain` builds, from `--objects` files or paginated cluster lists.
"""

import argparse
import sys
from collections.abc import Iterable
from typing import Any

import orjson

from app.core.audit.report import (
    PodRow,
    Report,
    WorkloadRow,
    audit_object,
    build_report,
    is_audited_kind,
    namespace_of,
)
from app.core.bad_object import BadObject
from app.core.credentials.serving_mode import Modes, serving
from app.shell.cli.progress import Progress
from app.shell.cli.sources import build_index, cluster, load, reading_cluster
from app.shell.cli.usage import UsageError
from app.shell.cluster.index import Index


def audit(args: argparse.Namespace) -> int:
    named = list(dict.fromkeys(args.namespace or ()))
    snapshot = load(args, "audit")
    enable = list(named)
    objects: Iterable[tuple[str, dict[str, Any]]]
    if args.objects:
        # As in explain, a namespace absent from the files counts as enabled.
        objects = [(s, o) for s, o in snapshot.others if is_audited_kind(o)]
        present = {n.name for n in snapshot.namespaces}
        enable += sorted({namespace_of(o) for _, o in objects} - present)
    else:
        from app.shell.cluster.listing import audited_objects

        objects = audited_objects(cluster(args), named or None)
    index = build_index(args, snapshot, enable)
    with reading_cluster("audit"):
        report = _audit(objects, index, set(named))
    served = served_by(index, named, Modes.named(args.serving))
    if args.output == "json":
        out = {**report, "servedBy": served}
        sys.stdout.write(orjson.dumps(out, option=orjson.OPT_INDENT_2).decode() + "\n")
    else:
        sys.stdout.write(render_text(report, served))
    return 0


def served_by(index: Index, named: list[str], modes: Modes) -> dict[str, str]:
    """Which mode serves each audited namespace: the named ones, else every enabled one."""
    names = named or sorted(n.name for n in index.namespaces() if n.enabled)
    return {name: serving(index.namespace(name), modes) for name in names}


def _audit(objects: Iterable[tuple[str, dict[str, Any]]], index: Index, named: set[str]) -> Report:
    def audited(namespace: str) -> bool:
        return namespace in named if named else index.table(namespace) is not None

    rows: list[PodRow | WorkloadRow | None] = []
    for source, obj in Progress(sys.stderr, "pullpass audit: objects read").track(objects):
        if not audited(namespace_of(obj)):
            continue
        try:
            rows.append(audit_object(obj, index))
        except BadObject as error:
            raise UsageError(f"pullpass audit: {source}: {error}") from None
    return build_report(rows)


def render_text(report: Report, served: dict[str, str]) -> str:
    """One table, pods first, then workloads; a line per namespace says which mode serves it,
    and a summary line what would change."""
    header = ("NAMESPACE", "KIND", "NAME", "OWNER", "WOULD ADD", "PULL FAILING")
    rows = [
        (
            p["namespace"],
            "Pod",
            p["name"],
            p["owner"] or "-",
            _names(p["add"]),
            "yes" if p["pullFailing"] else "-",
        )
        for p in report["pods"]
    ]
    rows += [
        (w["namespace"], w["kind"], w["name"], "-", _names(w["add"]), "-")
        for w in report["workloads"]
    ]
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in [header, *rows]
    ]
    lines.extend(f"namespace {ns} served by: {how}" for ns, how in served.items())
    pods, workloads = report["pods"], report["workloads"]
    lines.append(
        f"{sum(1 for p in pods if p['add'])} of {len(pods)} pods lack credentials "
        f"({sum(1 for p in pods if p['pullFailing'])} failing to pull); "
        f"{sum(1 for w in workloads if w['add'])} of {len(workloads)} workloads would get more"
    )
    return "\n".join(lines) + "\n"


def _names(names: list[str]) -> str:
    return ",".join(names) or "-"
