"""Settings that several commands read from their flags, kept apart from `serve`.

`explain`, `audit` and `policy manifests` need the scope settings the webhook uses, but not the
server: importing them from `serve` would load uvicorn and every leader worker on each run.
"""

import argparse

from app.core.credentials.scope import ScopeSettings


def scope_settings(args: argparse.Namespace) -> ScopeSettings:
    """The credentials namespace (the flag, else `default` over `--objects`, else the namespace
    pullpass runs in) and the project label."""
    namespace = args.credentials_namespace or ("default" if getattr(args, "objects", None) else "")
    if not namespace:
        # Only here: the client library costs `explain` and `audit` over files a fifth of a second.
        from app.shell.cluster.client import own_namespace

        namespace = own_namespace(args.kubeconfig, getattr(args, "context", None))
    return ScopeSettings(
        credentials_namespace=namespace,
        project_label=args.project_label,
        rancher=bool(getattr(args, "rancher", False)),
    )
