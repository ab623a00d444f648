"""What `pws tls`, mksite --tls, rmsite, the deploy hook and the health pass do with a site's
certificate. Every nginx change goes through NginxServer.install (validated, rolled back on
failure) by way of Deployer.rerender, which also re-renders the framework's settings so the
app agrees with nginx (secure cookies, HSTS)."""
from __future__ import annotations

import datetime as dt
import socket
import ssl
from dataclasses import replace

from .. import formulae, site as sitemod
from ..errors import PwsError
from ..site import Site
from . import MODES, TlsError, certinfo, config, issuers, state
from .state import Record, TlsPaths


class TlsSites:
    def __init__(self, env):
        self.env, self.paths, self.ui = env, env.paths, env.ui
        self.cfg = config.load(env.paths)
        self.tp = TlsPaths(env.paths)

    # --- on, off, renew
    def turn_on(self, site: Site, mode: str, force: bool = False) -> None:
        """Issue the certificate, then serve the site over HTTPS; on any failure the site
        stays as it was (plain HTTP if it was), nothing half-written in nginx."""
        self.env.web.install(site)  # the ACME path is served (a no-op for a current vhost)
        issuer = issuers.for_mode(mode, self.paths, self.cfg)
        with self.ui.step(f"getting a {mode} certificate for {', '.join(site.domains)}"):
            try:
                issuer.issue(site, force)
            except TlsError as exc:
                self._note_failure(site, mode, exc)
                raise
        self._refresh(site, mode)
        old = site.tls
        site.tls = mode
        self._apply(site, undo_to=old)
        self._confirm_served(site)

    def turn_off(self, site: Site) -> None:
        record = state.load(self.paths, site.name)
        old, site.tls = site.tls, ""
        self._apply(site, undo_to=old)
        if record is not None:
            state.save(self.paths, site.name, replace(record, served_valid=False))
            if record.served_valid and self.cfg.hsts_max_age:
                self.ui.warn(f"browsers that saw this site's HSTS header keep using https for up "
                             f"to {self.cfg.hsts_max_age} s; the certificate is kept.")

    def renew(self, site: Site, force: bool) -> None:
        if site.tls not in MODES:
            raise TlsError(f"Site '{site.name}' does not use TLS.", f"turn it on with "
                           f"`pws tls {site.name} on`.")
        issuer = issuers.for_mode(site.tls, self.paths, self.cfg)
        with self.ui.step(f"renewing the certificate of {site.name}"):
            try:
                issuer.renew(site, force)
            except TlsError as exc:
                self._note_failure(site, site.tls, exc)
                raise
            record = self._refresh(site, site.tls)
            self.reload_nginx()
        self.ui.say(f"{site.name}: certificate valid until {record.not_after[:10]} "
                    f"({record.days_left()} days left)")

    def deployed(self, name: str) -> None:
        """certbot's deploy hook for the lineage NAME: record the new certificate, check
        nginx's configuration, reload nginx gracefully."""
        site = sitemod.load(self.paths, name)
        if site.tls != "acme":
            return  # a first issuance: `pws tls on` installs the vhost itself
        self._refresh(site, "acme")
        self.reload_nginx()

    def reload_nginx(self) -> None:
        self.env.web.validate()
        self.env.web.reload()

    # --- rmsite
    def remove(self, site: Site, delete: bool) -> str:
        record = state.load(self.paths, site.name)
        modes = [m for m in MODES if self.has_certificate(site.name, m)]
        if not modes and record is None:
            return ""
        if not delete:
            return f"Kept the certificate of {site.name} ({', '.join(modes) or 'none'})."
        for mode in modes:
            issuers.for_mode(mode, self.paths, self.cfg).delete(site.name)
        state.remove(self.paths, site.name)
        return f"Deleted the certificate of {site.name}."

    def has_certificate(self, name: str, mode: str) -> bool:
        if mode == "acme":
            return (self.tp.letsencrypt / "renewal" / f"{name}.conf").exists()
        return self.tp.own_dir(name).is_dir()

    # --- health pass: renew our own, alert on near expiry or failed renewals
    def check(self, site: Site) -> str | None:
        """None if the certificate is fine, else the alert's reason (recorded once a day)."""
        record = state.usable(self.paths, site)
        if record is None:
            return None
        days = record.days_left()
        if site.tls != "acme" and days is not None and days < state.SELF_RENEW_DAYS:
            try:
                self.renew(site, force=True)
                return None
            except PwsError as exc:
                record = replace(record, failure=str(exc))
        if not (record.failure or (days is not None and days <= state.EXPIRY_ALERT_DAYS)):
            return None
        today = dt.date.today().isoformat()
        if record.alerted == today:
            return None
        state.save(self.paths, site.name, replace(record, alerted=today))
        why = f"; renewal failed: {record.failure}" if record.failure else ""
        return f"TLS certificate expires in {days} days{why}"

    # --- helpers
    def _apply(self, site: Site, undo_to: str) -> None:
        formula = formulae.load(site.formula, self.paths)
        sitemod.save(self.paths, site)
        try:
            self.env.deployer.rerender(site, formula)
        except PwsError:
            site.tls = undo_to
            sitemod.save(self.paths, site)
            self.env.deployer.rerender(site, formula)
            raise

    def _refresh(self, site: Site, mode: str) -> Record:
        cert, _ = self.tp.pair(site.name, mode)
        info = certinfo.read(cert)
        old = state.load(self.paths, site.name)
        keep = bool(old and old.mode == mode and old.served_valid and info.valid_now())
        record = Record(mode, list(info.names), info.issuer, info.not_after.isoformat(),
                        bool(info.ocsp), served_valid=keep)
        state.save(self.paths, site.name, record)
        return record

    def _note_failure(self, site: Site, mode: str, exc: TlsError) -> None:
        old = state.load(self.paths, site.name)
        if old is not None:
            state.save(self.paths, site.name, replace(old, failure=exc.problem))

    def _confirm_served(self, site: Site) -> None:
        """HSTS goes on only once nginx served this site's valid certificate (not for a
        self-signed one, which no browser accepts)."""
        record = state.load(self.paths, site.name)
        if record is None or record.served_valid or site.tls == "self-signed":
            return
        cert, _ = self.tp.pair(site.name, site.tls)
        if not certinfo.read(cert).valid_now():
            return
        if served_leaf(site.domains[0]) != certinfo.leaf_der(cert):
            self.ui.warn(f"nginx does not serve the new certificate of {site.name} on "
                         f"127.0.0.1:443 yet; HSTS stays off until it does (`pws tls "
                         f"{site.name} on` checks again).")
            return
        state.save(self.paths, site.name, replace(record, served_valid=True))
        self.env.deployer.rerender(site, formulae.load(site.formula, self.paths))

    def describe(self, site: Site) -> list[str]:
        record = state.load(self.paths, site.name)
        if site.tls not in MODES:
            kept = f" (a {record.mode} certificate is kept)" if record else ""
            return [f"tls:       off{kept}"]
        if record is None or record.mode != site.tls:
            return [f"tls:       {site.tls}, no certificate yet"]
        days = record.days_left()
        renewal = ("certbot's timer" if site.tls == "acme" else
                   f"pws-health, {state.SELF_RENEW_DAYS} days ahead")
        lines = [f"tls:       {site.tls}; issuer {record.issuer}",
                 f"names:     {' '.join(record.names)}",
                 f"expires:   {record.not_after[:10]} ({days} days left); renewed by {renewal}",
                 f"hsts:      {'on' if record.served_valid and self.cfg.hsts_max_age else 'off'}"]
        if record.failure:
            lines.append(f"last failure: {record.failure}")
        return lines


def served_leaf(domain: str, port: int = 443, timeout: float = 5.0) -> bytes | None:
    """The certificate nginx presents on 127.0.0.1:PORT for DOMAIN (SNI), DER; None if none."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
            with ctx.wrap_socket(sock, server_hostname=domain) as conn:
                return conn.getpeercert(binary_form=True)
    except (OSError, ssl.SSLError):
        return None
