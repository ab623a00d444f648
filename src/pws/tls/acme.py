"""ACME HTTP-01 through Debian's certbot: `certbot certonly --webroot`, never its nginx plugin
(which edits vhosts pws owns). One certificate per site, --cert-name NAME, all its domains.
certbot's own timer renews it; the deploy hook stored with it (`pws tls-deployed`) checks
nginx's configuration and reloads nginx gracefully."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from ..errors import CommandFailed
from ..fsutil import write_atomic
from ..paths import Paths
from ..runner import run
from ..site import Site
from . import TlsError, config
from .state import TlsPaths

CERTBOT = "certbot"
DEPLOY_HOOK = "/usr/bin/pws tls-deployed"
SYSTEM_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
TIMER_DROPIN = "etc/systemd/system/certbot.service.d/pws-acme-ca.conf"


class AcmeIssuer:
    mode = "acme"

    def __init__(self, paths: Paths, cfg: config.TlsConfig):
        self.paths, self.cfg, self.tp = paths, cfg, TlsPaths(paths)

    def issue(self, site: Site, force: bool = False) -> None:
        if not shutil.which(CERTBOT):
            raise TlsError("certbot is not installed, so no ACME certificate can be issued.",
                           "apt install certbot, or use `pws tls NAME self-signed` / `local-ca`.")
        self.tp.make_dirs()
        self._trust_bundle()
        self._certbot(self.command(site, force), site)

    def renew(self, site: Site, force: bool) -> None:
        self._trust_bundle()
        # Without a terminal certbot renew first sleeps up to 8 minutes (for its timer).
        cmd = [CERTBOT, "renew", "--non-interactive", "--no-random-sleep-on-renew",
               "--cert-name", site.name,
               "--deploy-hook", DEPLOY_HOOK] + (["--force-renewal"] if force else [])
        self._certbot(cmd, site)

    def delete(self, name: str) -> None:
        if shutil.which(CERTBOT) and (self.tp.letsencrypt / "renewal" / f"{name}.conf").exists():
            run([CERTBOT, "delete", "--non-interactive", "--cert-name", name],
                problem=f"certbot could not delete the certificate {name}:")

    def command(self, site: Site, force: bool) -> list[str]:
        cmd = [CERTBOT, "certonly", "--non-interactive", "--agree-tos", "--webroot",
               "--webroot-path", str(self.tp.webroot), "--cert-name", site.name,
               "--server", self.cfg.acme_server, "--deploy-hook", DEPLOY_HOOK,
               "--force-renewal" if force else "--keep-until-expiring"]
        cmd += ["--email", self.cfg.email] if self.cfg.email else ["--register-unsafely-without-email"]
        for domain in site.domains:
            cmd += ["-d", domain]
        return cmd

    def _certbot(self, cmd: list[str], site: Site) -> None:
        env = {"REQUESTS_CA_BUNDLE": str(self._bundle_path())} if self.cfg.acme_ca_bundle else None
        try:
            run(cmd, env=env, timeout=600)
        except CommandFailed as exc:
            raise TlsError(f"The ACME server refused a certificate for {site.name}: "
                           f"{ca_reason(exc.output or exc.problem)}",
                           f"the site stays on http://{site.domains[0]}/; once its names "
                           f"resolve to this machine, port 80 is reachable and CAA allows "
                           f"the CA, run `pws tls {site.name} on`.") from exc

    # --- an internal ACME CA (acme_ca_bundle): certbot, and certbot's timer, must trust it
    def _bundle_path(self) -> Path:
        return self.tp.dir / "acme-ca-bundle.pem"

    def _trust_bundle(self) -> None:
        """certbot trusts REQUESTS_CA_BUNDLE only: the system's CAs plus the admin's, in one
        file, given to pws's certbot runs and (by a drop-in) to certbot.service's renewals."""
        if not self.cfg.acme_ca_bundle:
            return
        system = SYSTEM_BUNDLE.read_text() if SYSTEM_BUNDLE.is_file() else ""
        bundle = system + "\n" + Path(self.cfg.acme_ca_bundle).read_text()
        write_atomic(self._bundle_path(), bundle, 0o644)
        dropin = self.paths.root / TIMER_DROPIN
        text = (f"# Written by pws: renewals trust the ACME CA of /etc/pws/pws.toml [tls].\n"
                f"[Service]\nEnvironment=REQUESTS_CA_BUNDLE={self._bundle_path()}\n")
        if not dropin.is_file() or dropin.read_text() != text:
            write_atomic(dropin, text, 0o644)
            if self.paths.root == Path("/") and os.path.isdir("/run/systemd/system"):
                run(["systemctl", "daemon-reload"], problem="systemctl daemon-reload failed:")


def ca_reason(output: str) -> str:
    """The CA's own words from certbot's output, on one line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    details = []
    for i, line in enumerate(lines):
        if line.startswith("Detail:"):
            domain = next((lines[j][7:].strip() for j in range(i - 1, max(i - 4, -1), -1)
                           if lines[j].startswith("Domain:")), "")
            details.append(f"{domain}: {line[7:].strip()}" if domain else line[7:].strip())
    if details:
        return "; ".join(details)
    for marker in ("An unexpected error occurred:", "Error:"):
        for i, line in enumerate(lines):
            if line.startswith(marker):
                rest = line[len(marker):].strip() or (lines[i + 1] if i + 1 < len(lines) else "")
                return rest
    skip = ("Ask for help", "See the logfile", "Saving debug log", "Some challenges",
            "Hint:", "Requesting a certificate")
    useful = [line for line in lines if not line.startswith(skip)]
    return (useful or ["certbot gave no reason"])[-1]
