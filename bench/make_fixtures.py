#!/usr/bin/env python3
"""Fixtures for benchmarking pullpass against the reference webhook.

Writes into OUT_DIR:
  objects.json   a v1 List: NAMESPACES enabled namespaces, each with SECRETS registry
                 credentials (kubernetes.io/dockerconfigjson) over a mix of registry keys
  review-K.json  AdmissionReview v1 requests (pod CREATE, 3 containers, ~4 KB each) spread
                 over the namespaces; K = 0..REVIEWS-1
  tls.crt, tls.key, ca.crt   a throwaway CA and a serving certificate for 127.0.0.1 / localhost
                 (only when the `cryptography` package is importable)

usage: make_fixtures.py OUT_DIR [--namespaces 1000] [--secrets 5] [--reviews 16] [--seed 1]
"""

import argparse
import base64
import datetime
import ipaddress
import json
import pathlib
import random

KEYS = [
    "quay.io",
    "https://index.docker.io/v1/",
    "registry.example.com:5000",
    "*.corp.example",
    "ghcr.io/acme",
    "harbor.internal.example/team-a",
    "https://registry.gitlab.example/v2/",
    "docker.io",
    "10.0.0.5:5000",
    "*.dkr.ecr.eu-west-1.amazonaws.com",
]
IMAGES = [
    "quay.io/acme/web:1.2",
    "nginx:1.27",
    "registry.example.com:5000/tools/init:1",
    "build.corp.example/ci/runner@sha256:" + "ab" * 32,
    "ghcr.io/acme/api:v3",
    "ghcr.io/other/x",
    "harbor.internal.example/team-a/svc:2",
    "registry.gitlab.example/group/app",
    "redis",
    "123456789012.dkr.ecr.eu-west-1.amazonaws.com/payments:7",
    "10.0.0.5:5000/edge",
    "registry.k8s.io/pause:3.10",
    "busybox:1.36",
]


def secret(namespace, name, keys):
    config = {"auths": {k: {"auth": base64.b64encode(b"user:pass").decode()} for k in keys}}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "kubernetes.io/dockerconfigjson",
        "metadata": {"name": name, "namespace": namespace},
        "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()},
    }


def container(name, image):
    return {
        "name": name,
        "image": image,
        "resources": {},
        "imagePullPolicy": "IfNotPresent",
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
        "volumeMounts": [
            {
                "name": "kube-api-access",
                "readOnly": True,
                "mountPath": "/var/run/secrets/kubernetes.io/serviceaccount",
            }
        ],
    }


def review(uid, namespace, images):
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": f"web-{uid}",
            "namespace": namespace,
            "labels": {"app": "web"},
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}" * 700},
        },
        "spec": {
            "initContainers": [container("init", images[0])],
            "containers": [container("app", images[1]), container("sidecar", images[2])],
            "volumes": [
                {
                    "name": "kube-api-access",
                    "projected": {
                        "sources": [
                            {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}}
                        ]
                    },
                }
            ],
            "restartPolicy": "Always",
            "terminationGracePeriodSeconds": 30,
            "dnsPolicy": "ClusterFirst",
            "serviceAccountName": "default",
            "schedulerName": "default-scheduler",
            "tolerations": [
                {
                    "key": "node.kubernetes.io/not-ready",
                    "operator": "Exists",
                    "effect": "NoExecute",
                    "tolerationSeconds": 300,
                }
            ],
            "enableServiceLinks": True,
            "preemptionPolicy": "PreemptLowerPriority",
            "priority": 0,
        },
    }
    return {
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": f"00000000-0000-4000-8000-{uid:012d}",
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "requestKind": {"group": "", "version": "v1", "kind": "Pod"},
            "requestResource": {"group": "", "version": "v1", "resource": "pods"},
            "name": pod["metadata"]["name"],
            "namespace": namespace,
            "operation": "CREATE",
            "userInfo": {"username": "admin", "groups": ["system:authenticated"]},
            "object": pod,
            "oldObject": None,
            "dryRun": False,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    }


def tls(out):
    try:
        from cryptography import x509
        from cryptography.hazmat.primitives import hashes, serialization
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.x509.oid import NameOID
    except ImportError:
        return
    now = datetime.datetime.now(datetime.UTC)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench-ca")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (out / "ca.crt").write_bytes(ca.public_bytes(pem))
    (out / "tls.crt").write_bytes(cert.public_bytes(pem))
    (out / "tls.key").write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )


def main():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("out")
    p.add_argument("--namespaces", type=int, default=1000)
    p.add_argument("--secrets", type=int, default=5)
    p.add_argument("--reviews", type=int, default=16)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    rnd = random.Random(a.seed)  # noqa: S311 - seeded on purpose: the same fixtures every run
    out = pathlib.Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    items = []
    for n in range(a.namespaces):
        ns = f"team-{n:05d}"
        items.append(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": ns, "labels": {"pullpass.io/inject": "enabled"}},
            }
        )
        for s in range(a.secrets):
            items.append(secret(ns, f"regcred-{s}", rnd.sample(KEYS, 2)))
    (out / "objects.json").write_text(
        json.dumps({"apiVersion": "v1", "kind": "List", "items": items})
    )
    for k in range(a.reviews):
        ns = f"team-{rnd.randrange(a.namespaces):05d}"
        (out / f"review-{k}.json").write_text(json.dumps(review(k, ns, rnd.sample(IMAGES, 3))))
    tls(out)


if __name__ == "__main__":
    main()
