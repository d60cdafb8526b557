"""Print a CycloneDX 1.5 SBOM (JSON) of the Python packages installed for the running interpreter.

The image's builder runs it with /opt/pullpass/bin/python, so the list is what the image carries,
read from the installed distributions' own metadata rather than from the lock: a package that
reached the venv some other way shows too. Standard library only (the image's venv has no pip).
With SOURCE_DATE_EPOCH set, the timestamp is that time, so the same build gives the same file.
"""

import importlib.metadata
import json
import os
import platform
import sys
import time
import uuid
from typing import Any

SPEC_VERSION = "1.5"
ROOT_PACKAGE = "pullpass"


def _normal(name: str) -> str:
    """The name as purls and the lock files spell it (PEP 503)."""
    return "-".join(name.replace("_", "-").replace(".", "-").lower().split("-"))


def _component(dist: importlib.metadata.Distribution) -> dict[str, Any]:
    name = _normal(dist.metadata["Name"])
    version = dist.version
    component: dict[str, Any] = {
        "type": "library",
        "bom-ref": f"pkg:pypi/{name}@{version}",
        "name": name,
        "version": version,
        "purl": f"pkg:pypi/{name}@{version}",
    }
    expression = dist.metadata.get("License-Expression")
    if expression:
        component["licenses"] = [{"expression": expression}]
    return component


def sbom() -> dict[str, Any]:
    dists = {_normal(d.metadata["Name"]): d for d in importlib.metadata.distributions()}
    root = dists.pop(ROOT_PACKAGE, None)
    if root is None:
        raise SystemExit(f"sbom: {ROOT_PACKAGE} is not installed for {sys.executable}")
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", time.time()))
    python = platform.python_version()
    components = [_component(dists[name]) for name in sorted(dists)]
    components.append(
        {
            "type": "platform",
            "bom-ref": f"pkg:generic/cpython@{python}",
            "name": "cpython",
            "version": python,
            "purl": f"pkg:generic/cpython@{python}",
        }
    )
    main = _component(root) | {"type": "application"}
    return {
        "bomFormat": "CycloneDX",
        "specVersion": SPEC_VERSION,
        # Derived from the contents, so the same packages give the same serial number.
        "serialNumber": "urn:uuid:"
        + str(uuid.uuid5(uuid.NAMESPACE_URL, json.dumps([main, components], sort_keys=True))),
        "version": 1,
        "metadata": {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch)),
            "component": main,
        },
        "components": components,
    }


if __name__ == "__main__":
    json.dump(sbom(), sys.stdout, indent=2, sort_keys=True)
    sys.stdout.write("\n")
