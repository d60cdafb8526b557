#!/usr/bin/env python3
"""Policy mode's leader pass: how long the parameter objects' specs take to work out.

    .venv/bin/python bench/policy_pass.py [--namespaces N] [--covered N] [--projects N]
                                          [--credentials N] [--keys N] [--passes N]

Every enabled namespace belongs to one of `--projects` projects, each with `--credentials`
project sources of `--keys` keys; the first `--covered` namespaces have a credential of their
own. Prints the first pass (nothing remembered yet) and the best of the later ones, as a leader
repeats them on every change. Pure code (`parameters.desired`), no API server: the writes that
follow are measured by the e2e suite. Run by hand; not part of `make test`.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from app.core.credentials.credential import Credential, NamespaceInfo
from app.core.credentials.scope import Resolution, ScopeSettings, resolve
from app.core.policy.parameters import desired

DOCKERCFG = "kubernetes.io/dockerconfigjson"
SETTINGS = ScopeSettings("pullpass-system")


def cluster(
    args: argparse.Namespace,
) -> tuple[dict[str, Resolution], list[Credential]]:
    sources = [
        Credential(
            SETTINGS.credentials_namespace,
            f"p{p}-c{c}",
            DOCKERCFG,
            {"pullpass.io/project": f"p{p}"},
            {},
            tuple(f"r{p}-{c}-{k}.registry.example" for k in range(args.keys)),
        )
        for p in range(args.projects)
        for c in range(args.credentials)
    ]
    # Only its project's sources can serve a namespace: resolving against those alone is the
    # same resolution, without this script's own cost growing with every project.
    by_project: dict[str, list[Credential]] = {}
    for source in sources:
        by_project.setdefault(source.labels["pullpass.io/project"], []).append(source)
    credentials = list(sources)
    resolutions = {}
    for i in range(args.namespaces):
        name, project = f"ns{i:05d}", f"p{i % args.projects}"
        labels = {"pullpass.io/inject": "enabled", "pullpass.io/project": project}
        own = []
        if i < args.covered:
            own = [Credential(name, "own", DOCKERCFG, {}, {}, (f"own{i}.registry.example",))]
            credentials += own
        in_project = by_project.get(project, [])
        resolutions[name] = resolve(NamespaceInfo(name, labels), own, in_project, SETTINGS)
    return resolutions, credentials


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--namespaces", type=int, default=10_000)
    parser.add_argument("--covered", type=int, default=1_000)
    parser.add_argument("--projects", type=int, default=50)
    parser.add_argument("--credentials", type=int, default=10)
    parser.add_argument("--keys", type=int, default=2)
    parser.add_argument("--passes", type=int, default=4)
    args = parser.parse_args()
    resolutions, credentials = cluster(args)
    times = []
    for _ in range(max(args.passes, 2)):
        started = time.perf_counter()
        objects = desired(resolutions, credentials, SETTINGS)
        times.append(time.perf_counter() - started)
    print(
        f"{args.namespaces} namespaces ({args.covered} covered), {args.projects} projects x "
        f"{args.credentials} credentials x {args.keys} keys: {len(objects)} parameter objects; "
        f"first pass {times[0]:.2f} s, later passes best {min(times[1:]):.2f} s"
    )


if __name__ == "__main__":
    main()
