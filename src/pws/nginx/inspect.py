"""Reading the admin's nginx configuration with a real parser (crossplane), never with regexes."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import crossplane

from ..errors import NginxConfigError


@dataclass
class NginxFacts:
    server_names: dict[str, str] = field(default_factory=dict)  # name -> file that serves it
    included_files: set[str] = field(default_factory=set)
    default_servers: dict[str, str] = field(default_factory=dict)  # listen arg -> file

    def includes(self, path: Path) -> bool:
        return str(path) in self.included_files


def _walk(directives, filename: str, facts: NginxFacts) -> None:
    for d in directives:
        if d["directive"] == "server_name":
            for name in d["args"]:
                facts.server_names.setdefault(name.lower(), filename)
        elif d["directive"] == "listen" and ({"default_server", "default"} & set(d["args"][1:])):
            facts.default_servers.setdefault(d["args"][0], filename)
        if "block" in d:
            _walk(d["block"], filename, facts)


def read_facts(nginx_conf: Path, *, ignore=lambda path: False) -> NginxFacts:
    """Server names, default servers and included files of the configuration at nginx_conf.

    `ignore(path)` leaves out files (pws's own vhosts) from the names and defaults.
    """
    # nginx -t checks contexts and arguments; here only names and listens are read.
    payload = crossplane.parse(str(nginx_conf), catch_errors=True, combine=False,
                               single=False, comments=False, check_ctx=False, check_args=False)
    if payload["status"] != "ok" and not payload["config"]:
        errors = "; ".join(e["error"] for e in payload["errors"])
        raise NginxConfigError(f"Cannot read the nginx configuration: {errors}",
                               "fix it until `nginx -t` passes.")
    facts = NginxFacts()
    for conf in payload["config"]:
        facts.included_files.add(conf["file"])
        if not ignore(Path(conf["file"])):
            _walk(conf["parsed"], conf["file"], facts)
    return facts
