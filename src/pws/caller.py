"""Who a command runs for: None for root at the CLI (every site), else the ordinary user pwsd
learned from the socket's peer credentials (their sites only). Set once, by pwsd, in the
child that runs the request."""
from __future__ import annotations

_user: str | None = None


def set_user(user: str) -> None:
    global _user
    _user = user


def user() -> str | None:
    return _user


def sees(owner: str) -> bool:
    """May the caller see a site (or audit entry) of this owner?"""
    return _user is None or owner == _user
