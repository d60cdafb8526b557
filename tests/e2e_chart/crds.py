"""Minimal CRDs for the chart's optional kinds, so the API server validates them.

The test cluster runs neither cert-manager nor the Prometheus Operator, so without their CRDs a
server-side dry run of `certificates.mode=cert-manager` or `serviceMonitor.enabled=true` could
only fail with "no matches for kind". These CRDs carry a trimmed copy of the upstream v1 schemas:
every field the chart sets, with the upstream type, enum, pattern and required list, and nothing
else. They are closed (no `x-kubernetes-preserve-unknown-fields`), so with `--validate=strict` a
misspelt or misplaced field in the chart is refused by the real API server, as it would be on a
cluster with the real CRDs. Fields the chart does not set are left out on purpose: a chart that
starts using one fails here first, and that is the cue to add it with its upstream definition.
"""

from __future__ import annotations

from typing import Any

from e2e.actions import eventually
from e2e.cluster import Kubectl

Schema = dict[str, Any]

STRING: Schema = {"type": "string"}
STRINGS: Schema = {"type": "array", "items": STRING}
# Prometheus Operator's monitoringv1.Duration.
PROM_DURATION: Schema = {
    "type": "string",
    "pattern": (
        r"^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?"
        r"(([0-9]+)ms)?)$"
    ),
}
# cert-manager's KeyUsage enum (certificates.cert-manager.io v1, spec.usages).
KEY_USAGES = [
    "signing",
    "digital signature",
    "content commitment",
    "key encipherment",
    "key agreement",
    "data encipherment",
    "cert sign",
    "crl sign",
    "encipher only",
    "decipher only",
    "any",
    "server auth",
    "client auth",
    "code signing",
    "email protection",
    "s/mime",
    "ipsec end system",
    "ipsec tunnel",
    "ipsec user",
    "timestamping",
    "ocsp signing",
    "microsoft sgc",
    "netscape sgc",
]
ISSUER_REF: Schema = {
    "type": "object",
    "required": ["name"],
    "properties": {"group": STRING, "kind": STRING, "name": STRING},
}
LABEL_SELECTOR: Schema = {
    "type": "object",
    "properties": {
        "matchLabels": {"type": "object", "additionalProperties": STRING},
        "matchExpressions": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["key", "operator"],
                "properties": {"key": STRING, "operator": STRING, "values": STRINGS},
            },
        },
    },
}


def _crd(group: str, kind: str, plural: str, spec: Schema) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"kind": kind, "plural": plural, "singular": kind.lower()},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "required": ["spec"],
                            "properties": {
                                "apiVersion": STRING,
                                "kind": STRING,
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": {
                                    "type": "object",
                                    "x-kubernetes-preserve-unknown-fields": True,
                                },
                            },
                        }
                    },
                }
            ],
        },
    }


CERTIFICATE = _crd(
    "cert-manager.io",
    "Certificate",
    "certificates",
    {
        "type": "object",
        "required": ["issuerRef", "secretName"],
        "properties": {
            "commonName": STRING,
            "dnsNames": STRINGS,
            "duration": STRING,
            "renewBefore": STRING,
            "isCA": {"type": "boolean"},
            "secretName": STRING,
            "usages": {"type": "array", "items": {"type": "string", "enum": KEY_USAGES}},
            "privateKey": {
                "type": "object",
                "properties": {
                    "algorithm": {"type": "string", "enum": ["RSA", "ECDSA", "Ed25519"]},
                    "encoding": {"type": "string", "enum": ["PKCS1", "PKCS8"]},
                    "rotationPolicy": {"type": "string", "enum": ["Never", "Always"]},
                    "size": {"type": "integer"},
                },
            },
            "issuerRef": ISSUER_REF,
        },
    },
)

ISSUER = _crd(
    "cert-manager.io",
    "Issuer",
    "issuers",
    {
        "type": "object",
        "properties": {
            "selfSigned": {
                "type": "object",
                "properties": {"crlDistributionPoints": STRINGS},
            },
            "ca": {
                "type": "object",
                "required": ["secretName"],
                "properties": {
                    "secretName": STRING,
                    "crlDistributionPoints": STRINGS,
                    "ocspServers": STRINGS,
                },
            },
        },
    },
)

SERVICE_MONITOR = _crd(
    "monitoring.coreos.com",
    "ServiceMonitor",
    "servicemonitors",
    {
        "type": "object",
        "required": ["selector"],
        "properties": {
            "jobLabel": STRING,
            "selector": LABEL_SELECTOR,
            "namespaceSelector": {
                "type": "object",
                "properties": {"any": {"type": "boolean"}, "matchNames": STRINGS},
            },
            "endpoints": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "port": STRING,
                        "path": STRING,
                        "scheme": {"type": "string", "enum": ["http", "https", "HTTP", "HTTPS"]},
                        "interval": PROM_DURATION,
                        "scrapeTimeout": PROM_DURATION,
                        "honorLabels": {"type": "boolean"},
                    },
                },
            },
        },
    },
)

CRDS = (CERTIFICATE, ISSUER, SERVICE_MONITOR)


def install(kubectl: Kubectl) -> None:
    """Apply the CRDs and wait until they are Established and served (bounded)."""
    for crd in CRDS:
        kubectl.apply(crd)
    names = [f"crd/{crd['metadata']['name']}" for crd in CRDS]
    kubectl("wait", "--for=condition=Established", "--timeout=60s", *names)
    for crd in CRDS:
        resource: str = crd["metadata"]["name"]

        def served(resource: str = resource) -> bool:
            return kubectl("get", resource, "-A", check=False).returncode == 0

        eventually(served, 30, f"{resource} to be served", every=0.3)
