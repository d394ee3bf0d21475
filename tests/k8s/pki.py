"""Certificates for the test control plane, made with ``openssl`` (on every Debian machine).

What a real cluster's installer (kubeadm) makes, cut to what the tests need: one CA; the API
server's serving certificate for 127.0.0.1; client certificates for the admin (group
``system:masters``) and for the API server's calls to kubelets (the node agent's log API); and
the key pair that signs ServiceAccount tokens, so tokens issued through the TokenRequest API are
the real thing the chart's RBAC is tested with.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

_DAYS = "3650"


@dataclass(frozen=True)
class Pki:
    ca_crt: Path
    ca_key: Path
    apiserver_crt: Path
    apiserver_key: Path
    admin_crt: Path
    admin_key: Path
    kubelet_client_crt: Path
    kubelet_client_key: Path
    sa_key: Path
    sa_pub: Path


def _openssl(*args: str | Path, cwd: Path) -> None:
    subprocess.run(["openssl", *map(str, args)], cwd=cwd, check=True, capture_output=True)


def _client_or_server(
    d: Path, name: str, subject: str, extensions: str, ca: tuple[Path, Path]
) -> tuple[Path, Path]:
    key, csr, crt, ext = d / f"{name}.key", d / f"{name}.csr", d / f"{name}.crt", d / f"{name}.ext"
    ext.write_text(extensions)
    _openssl("genrsa", "-out", key, "2048", cwd=d)
    _openssl("req", "-new", "-key", key, "-subj", subject, "-out", csr, cwd=d)
    _openssl(
        "x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-CAcreateserial",
        "-days", _DAYS, "-sha256", "-extfile", ext, "-out", crt, cwd=d,
    )  # fmt: skip
    return crt, key


def make_pki(d: Path) -> Pki:
    """Write every key and certificate into ``d`` (RSA 2048: fast enough, ~1 s in all)."""
    d.mkdir(parents=True, exist_ok=True)
    ca_key, ca_crt = d / "ca.key", d / "ca.crt"
    _openssl("genrsa", "-out", ca_key, "2048", cwd=d)
    _openssl(
        "req", "-x509", "-new", "-key", ca_key, "-subj", "/CN=aiflow-test-ca", "-days", _DAYS,
        "-sha256", "-out", ca_crt, cwd=d,
    )  # fmt: skip
    ca = (ca_crt, ca_key)
    server_ext = (
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,IP:10.0.0.1,DNS:localhost,"
        "DNS:kubernetes,DNS:kubernetes.default,DNS:kubernetes.default.svc\n"
    )
    client_ext = (
        "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
        "extendedKeyUsage=clientAuth\n"
    )
    apiserver = _client_or_server(d, "apiserver", "/CN=kube-apiserver", server_ext, ca)
    admin = _client_or_server(d, "admin", "/O=system:masters/CN=aiflow-test-admin", client_ext, ca)
    kubelet_client = _client_or_server(
        d, "kubelet-client", "/O=system:masters/CN=kube-apiserver-kubelet-client", client_ext, ca
    )
    sa_key, sa_pub = d / "sa.key", d / "sa.pub"
    _openssl("genrsa", "-out", sa_key, "2048", cwd=d)
    _openssl("rsa", "-in", sa_key, "-pubout", "-out", sa_pub, cwd=d)
    return Pki(ca_crt, ca_key, *apiserver, *admin, *kubelet_client, sa_key, sa_pub)
