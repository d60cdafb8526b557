"""pullpass in self-managed certificate mode, installed the way the chart installs it.

The chart's RBAC and Secret-write policy are applied for real and pullpass runs the chart
Deployment's own arguments under a token for the chart's ServiceAccount (TokenRequest), so each
Secret and webhook-configuration call of the certificate loop is checked against the chart's
rules. Two things differ from a
cluster, both forced by loopback: the harness chooses the ports and the cert directory, and the
webhook is reached by `clientConfig.url` (https://127.0.0.1:PORT) instead of the Service, which
has no endpoints here; `--cert-host=127.0.0.1` puts that address in the serving certificate.
"""

from __future__ import annotations

import base64
import datetime
import ipaddress
import json
import re
import socket
import ssl
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from localcluster.control_plane import ControlPlane
from localcluster.kubectl import Kubectl
from localcluster.webhook import Pullpass
from tests.kit.chart import one

RELEASE = "certs"
NAMESPACE = "pullpass-certs"
FULLNAME = f"{RELEASE}-pullpass"
TLS_SECRET = f"{FULLNAME}-tls"
# Chosen by the harness: loopback ports, a temporary cert directory, the suite's log level.
HARNESS_FLAGS = ("--port=", "--metrics-port=", "--log-level=", "--cert-dir=")
CHECK_INTERVAL = 1  # seconds: rotations are noticed within a second or two

Manifest = dict[str, Any]


def chart_args(
    objects: list[Manifest],
    cert_dir: Path,
    *,
    fullname: str = FULLNAME,
    cert_hosts: tuple[str, ...] = ("127.0.0.1",),
) -> list[str]:
    """The chart Deployment's `serve` flags, with the harness's own where loopback needs them."""
    args: list[str] = one(objects, "Deployment")["spec"]["template"]["spec"]["containers"][0][
        "args"
    ]
    assert args[0] == "serve", args
    kept = [a for a in args[1:] if not a.startswith(HARNESS_FLAGS)]
    for needed in (f"--tls-secret={fullname}-tls", f"--webhook-config={fullname}"):
        assert needed in kept, f"{needed} not in the chart's arguments {kept}"
    return [
        *kept,
        f"--cert-dir={cert_dir}",
        *([f"--cert-host={','.join(cert_hosts)}"] if cert_hosts else []),
        f"--cert-check-interval={CHECK_INTERVAL}",
    ]


def loopback_webhook(objects: list[Manifest], url: str) -> Manifest:
    """The chart's MutatingWebhookConfiguration, its Service reference swapped for `url`."""
    config: Manifest = json.loads(json.dumps(one(objects, "MutatingWebhookConfiguration")))
    for webhook in config["webhooks"]:
        assert "service" in webhook["clientConfig"], webhook["clientConfig"]
        assert "caBundle" not in webhook["clientConfig"], "the chart must leave caBundle empty"
        webhook["clientConfig"] = {"url": url}
    return config


# --- what the cluster holds ------------------------------------------------------------------


def secret_data(
    kubectl: Kubectl, *, namespace: str = NAMESPACE, secret: str = TLS_SECRET
) -> dict[str, bytes] | None:
    """The TLS Secret's data, decoded; None when it does not exist."""
    done = kubectl("get", "secret", secret, "-n", namespace, "-o", "json", check=False)
    if done.returncode != 0:
        assert "NotFound" in done.stderr, done.stderr
        return None
    data = json.loads(done.stdout).get("data") or {}
    return {k: base64.b64decode(v) for k, v in data.items()}


def ca_bundles(kubectl: Kubectl) -> list[list[bytes]]:
    """Each webhook's caBundle, as its certificates (PEM), in order."""
    config = kubectl.json("get", "mutatingwebhookconfiguration", FULLNAME)
    out = []
    for webhook in config["webhooks"]:
        bundle = base64.b64decode(webhook["clientConfig"].get("caBundle") or "")
        certs = x509.load_pem_x509_certificates(bundle) if bundle.strip() else []
        out.append([c.public_bytes(serialization.Encoding.PEM) for c in certs])
    return out


def served_certificate(port: int) -> bytes:
    """The certificate the webhook port presents now (not verified), as PEM."""
    pem = ssl.get_server_certificate(("127.0.0.1", port), timeout=5)
    return x509.load_pem_x509_certificate(pem.encode()).public_bytes(serialization.Encoding.PEM)


def handshake_verified(port: int, ca_pem: bytes) -> None:
    """A handshake trusting only `ca_pem`, checking the name 127.0.0.1: the API server's view."""
    context = ssl.create_default_context(cadata=ca_pem.decode())
    with (
        socket.create_connection(("127.0.0.1", port), timeout=5) as raw,
        context.wrap_socket(raw, server_hostname="127.0.0.1"),
    ):
        pass


def same_cert(a: bytes, b: bytes) -> bool:
    return x509.load_pem_x509_certificate(a) == x509.load_pem_x509_certificate(b)


def sans(cert_pem: bytes) -> set[str]:
    cert = x509.load_pem_x509_certificate(cert_pem)
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return {str(v) for v in names.get_values_for_type(x509.IPAddress)} | set(
        names.get_values_for_type(x509.DNSName)
    )


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` whose labels include `labels` (Prometheus text format)."""
    total = 0.0
    for line in text.splitlines():
        match = re.match(r"^([a-zA-Z_:][\w:]*)(\{[^}]*\})? (\S+)$", line)
        if not match or match.group(1) != name:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(3))
    return total


# --- certificates the tests plant in the Secret ----------------------------------------------


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def dated_pair(
    *,
    not_before: datetime.datetime,
    not_after: datetime.datetime,
    hosts: list[str] | None = None,
    ca: tuple[bytes, bytes] | None = None,
) -> tuple[bytes, bytes]:
    """(cert, key) PEM with the given validity: a CA when `ca` is None, else a leaf `ca` signs."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "planted")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if ca is None:
        builder = builder.issuer_name(subject).add_extension(
            x509.BasicConstraints(ca=True, path_length=0), critical=True
        )
        signer = key
    else:
        ca_cert = x509.load_pem_x509_certificate(ca[0])
        loaded = serialization.load_pem_private_key(ca[1], None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        signer = loaded
        builder = (
            builder.issuer_name(ca_cert.subject)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), False)
            .add_extension(
                x509.SubjectAlternativeName([_general_name(h) for h in hosts or []]), False
            )
        )
    cert = builder.sign(signer, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def plant(kubectl: Kubectl, data: dict[str, bytes]) -> None:
    """Replace the TLS Secret's data, as an operator or a restore from backup would."""
    patch = {"data": {k: base64.b64encode(v).decode() for k, v in data.items()}}
    kubectl("patch", "secret", TLS_SECRET, "-n", NAMESPACE, "--type=merge", "-p", json.dumps(patch))


def expiring_hours_ago(hours: float) -> datetime.datetime:
    return _now() - datetime.timedelta(hours=hours)


def in_hours(hours: float) -> datetime.datetime:
    return _now() + datetime.timedelta(hours=hours)


def start_pullpass(
    cluster: ControlPlane,
    kubectl: Kubectl,
    objects: list[Manifest],
    workdir: Path,
    *,
    release: str = RELEASE,
    namespace: str = NAMESPACE,
    cert_hosts: tuple[str, ...] = ("127.0.0.1",),
    register: bool = True,
) -> Pullpass:
    """Register the chart's webhook (no caBundle), then run pullpass under the chart's token.

    Without `register`, another replica: it keeps the certificates but the API server calls the
    first one.
    """
    fullname = f"{release}-pullpass"
    kubeconfig = cluster.service_account_kubeconfig(
        kubectl, namespace, fullname, workdir / "sa.kubeconfig"
    )
    args = chart_args(objects, workdir / "self-managed", fullname=fullname, cert_hosts=cert_hosts)
    server = Pullpass(
        kubeconfig,
        workdir,
        credentials_namespace=namespace,
        extra_args=tuple(args),
        name=f"pullpass-{release}",
    )
    if register:
        kubectl.apply(loopback_webhook(objects, server.url))
    server.start()
    return server
