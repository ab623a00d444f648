"""Certificates pws makes itself with the openssl CLI: `self-signed`, and `local-ca` (signed by
a pws CA in /var/lib/pws/ca, 0700, whose root the admin can distribute). Keys are EC P-256,
0600 root, in dirs only root can enter; a new pair is written under temp names and renamed
into place, so nginx never reads a key with the wrong certificate. Renewed by the health pass
(and `pws tls NAME renew`) SELF_RENEW_DAYS before expiry, like certbot renews ACME ones."""
from __future__ import annotations

import os
import secrets
import shutil
import socket
from pathlib import Path

from .. import safefs
from ..paths import Paths
from ..runner import run
from ..site import Site
from .state import TlsPaths

LEAF_DAYS = 90
CA_DAYS = 3650
EC = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]


class OwnIssuer:
    """self-signed (ca=False) or local-ca (ca=True)."""

    def __init__(self, paths: Paths, ca: bool):
        self.paths, self.ca, self.tp = paths, ca, TlsPaths(paths)
        self.mode = "local-ca" if ca else "self-signed"

    def issue(self, site: Site, force: bool = False) -> None:
        self.tp.make_dirs()
        own = self.tp.own_dir(site.name)
        safefs.make_dir(own, 0o700, 0, 0)
        if self.ca:
            self.ensure_ca()
        with _Scratch(own) as tmp:
            self._make(site, tmp)
            for name in ("privkey.pem", "cert.pem", "chain.pem", "fullchain.pem"):
                os.chmod(tmp / name, 0o600 if name == "privkey.pem" else 0o644)
                os.replace(tmp / name, own / name)

    renew = issue

    def delete(self, name: str) -> None:
        shutil.rmtree(self.tp.own_dir(name), ignore_errors=True)  # fd-based, follows no link

    def _make(self, site: Site, tmp: Path) -> None:
        key, cert = tmp / "privkey.pem", tmp / "cert.pem"
        san = "subjectAltName=" + ",".join(f"DNS:{d}" for d in site.domains)
        leaf_ext = [san, "basicConstraints=critical,CA:FALSE", "keyUsage=critical,digitalSignature",
                    "extendedKeyUsage=serverAuth"]
        subject = f"/CN={site.domains[0]}"
        if not self.ca:
            run(["openssl", "req", "-x509", *EC, "-keyout", key, "-out", cert, "-days", LEAF_DAYS,
                 "-subj", subject, *_addext(leaf_ext)], problem="openssl could not make the "
                "self-signed certificate:")
            chain = b""
        else:
            csr = tmp / "req.csr"
            run(["openssl", "req", "-new", *EC, "-keyout", key, "-out", csr, "-subj", subject],
                problem="openssl could not make the key and request:")
            (tmp / "ext.cnf").write_text("\n".join(leaf_ext) + "\n")
            run(["openssl", "x509", "-req", "-in", csr, "-CA", self.tp.ca_dir / "ca.crt",
                 "-CAkey", self.tp.ca_dir / "ca.key", "-set_serial", "0x" + secrets.token_hex(16),
                 "-days", LEAF_DAYS, "-extfile", tmp / "ext.cnf", "-out", cert],
                problem="openssl could not sign the certificate with the local CA:")
            chain = (self.tp.ca_dir / "ca.crt").read_bytes()
        (tmp / "chain.pem").write_bytes(chain)
        (tmp / "fullchain.pem").write_bytes(cert.read_bytes() + chain)

    def ensure_ca(self) -> Path:
        """The local CA, made once; its root also published 0644 as TlsPaths.ca_public."""
        ca = self.tp.ca_dir
        safefs.make_dir(ca, 0o700, 0, 0)
        if not (ca / "ca.key").is_file() or not (ca / "ca.crt").is_file():
            with _Scratch(ca) as tmp:
                run(["openssl", "req", "-x509", *EC, "-keyout", tmp / "ca.key", "-out",
                     tmp / "ca.crt", "-days", CA_DAYS,
                     "-subj", f"/CN=PWS local CA {socket.gethostname()[:40]}",
                     *_addext(["basicConstraints=critical,CA:TRUE",
                               "keyUsage=critical,keyCertSign,cRLSign"])],
                    problem="openssl could not make the local CA:")
                os.chmod(tmp / "ca.key", 0o600)
                os.replace(tmp / "ca.key", ca / "ca.key")
                os.replace(tmp / "ca.crt", ca / "ca.crt")
        safefs.write_file(self.tp.ca_public, (ca / "ca.crt").read_bytes(), 0o644, 0, 0)
        return self.tp.ca_public


def _addext(exts: list[str]) -> list[str]:
    return [arg for ext in exts for arg in ("-addext", ext)]


class _Scratch:
    """A fresh 0700 dir inside a root-only dir, removed on the way out."""

    def __init__(self, parent: Path):
        self.path = parent / f".new-{secrets.token_hex(6)}"

    def __enter__(self) -> Path:
        old = os.umask(0o077)
        try:
            os.mkdir(self.path, 0o700)
        finally:
            os.umask(old)
        return self.path

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
