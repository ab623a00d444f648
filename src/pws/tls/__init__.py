"""HTTPS for pws sites (docs/architecture.md, "TLS").

One certificate per site, named after it, from one of three issuers behind one interface
(`issuers.for_mode`): `acme` (Debian's certbot, HTTP-01 through the webroot every pws vhost
serves), `self-signed`, and `local-ca` (a pws CA in /var/lib/pws/ca). What pws knows about a
site's certificate is in /var/lib/pws/tls/NAME.json (`state.py`); nginx and the framework
formulae read it through `state.vhost_facts` and `state.framework_facts`.
"""
from __future__ import annotations

from ..errors import PwsError

MODES = ("acme", "self-signed", "local-ca")


class TlsError(PwsError):
    """A certificate could not be issued, renewed or installed; nothing was changed."""
