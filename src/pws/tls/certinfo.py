"""What a certificate says (names, issuer, expiry, OCSP responder), read with the openssl CLI."""
from __future__ import annotations

import datetime as dt
import re
import ssl
from dataclasses import dataclass
from pathlib import Path

from ..errors import CommandFailed
from ..runner import run
from . import TlsError

_PEM = re.compile(rb"-----BEGIN CERTIFICATE-----\r?\n.+?-----END CERTIFICATE-----", re.S)


@dataclass(frozen=True)
class CertInfo:
    names: tuple[str, ...]
    issuer: str
    subject: str
    not_after: dt.datetime
    ocsp: str  # the OCSP responder URL, "" if the certificate names none

    @property
    def self_signed(self) -> bool:
        return self.issuer == self.subject

    def days_left(self, now: dt.datetime | None = None) -> int:
        now = now or dt.datetime.now(dt.timezone.utc)
        return (self.not_after - now).days

    def valid_now(self, now: dt.datetime | None = None) -> bool:
        return (self.not_after - (now or dt.datetime.now(dt.timezone.utc))).total_seconds() > 0


def read(cert: Path) -> CertInfo:
    """The first certificate of a PEM file (a fullchain's leaf)."""
    try:
        out = run(["openssl", "x509", "-in", cert, "-noout", "-subject", "-issuer", "-enddate",
                   "-ocsp_uri", "-ext", "subjectAltName", "-nameopt", "RFC2253"],
                  problem=f"openssl cannot read the certificate {cert}:").stdout
    except CommandFailed as exc:
        raise TlsError(exc.problem, "issue it again with `pws tls NAME renew --force`.") from exc
    return parse(out)


def parse(text: str) -> CertInfo:
    """openssl x509 -subject -issuer -enddate -ocsp_uri -ext subjectAltName output."""
    fields, names, ocsp = {}, [], ""
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key in ("subject", "issuer", "notAfter"):
            fields[key] = value.strip()
        elif line.startswith(("http://", "https://")):
            ocsp = ocsp or line.strip()
        elif "DNS:" in line:
            names += [part.strip()[4:] for part in line.split(",") if part.strip().startswith("DNS:")]
    if "notAfter" not in fields:
        raise TlsError("openssl printed no expiry date for the certificate.",
                       "issue it again with `pws tls NAME renew --force`.")
    not_after = dt.datetime.strptime(fields["notAfter"], "%b %d %H:%M:%S %Y %Z").replace(
        tzinfo=dt.timezone.utc)
    return CertInfo(tuple(names), fields.get("issuer", ""), fields.get("subject", ""),
                    not_after, ocsp)


def leaf_der(pem_file: Path) -> bytes:
    """The first certificate of a PEM file, DER-encoded (to compare with what nginx serves)."""
    match = _PEM.search(pem_file.read_bytes())
    if not match:
        raise TlsError(f"{pem_file} holds no certificate.", "issue it again with "
                       "`pws tls NAME renew --force`.")
    return ssl.PEM_cert_to_DER_cert(match.group(0).decode())
