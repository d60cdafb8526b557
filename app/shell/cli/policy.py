"""`pullpass policy manifests`: every object policy mode needs, for `kubectl apply -f -`."""

import argparse
import json

from app.core.policy.manifests import manifests
from app.shell.cli.settings import scope_settings


def policy(args: argparse.Namespace) -> int:
    settings = scope_settings(args)
    items = manifests(
        settings.credentials_namespace, settings.project_label, args.warnings, settings.rancher
    )
    print(json.dumps({"apiVersion": "v1", "kind": "List", "items": items}, indent=2))
    return 0
