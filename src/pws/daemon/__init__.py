"""pwsd: the privileged side of `pws` for ordinary users (docs/security.md, delegation)."""
