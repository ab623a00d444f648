"""Moving a live site from one release to another (docs/architecture.md): deploy (build beside
the live release, health gate, switch) and rollback (switch back). The old release serves
until the new one answered; whatever fails or is interrupted puts it back."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import gate, probe
from .errors import CommandFailed, PwsError
from .formulae import Context, Formula
from .releases import NoRelease, READY, Release, Releases
from .site import Site
from .transaction import Transaction

NGINX_CHECK_SECONDS = 30


@dataclass
class Rollout:
    env: "object"  # environment.Env (not imported: it imports this module's users)

    def deploy(self, site: Site, formula: Formula, *, source: str,
               fill: Callable[[Release], None]) -> Release:
        """A new release from fill(release), live once it answered; the release."""
        ui, releases = self.env.ui, Releases(self.env.paths, site.name)
        releases.adopt_legacy()
        removed = releases.clean_leftovers()
        if removed:
            ui.warn(f"removed what interrupted deploys left: release(s) {removed}")
        old = releases.live()
        tx, release = Transaction(), None
        try:
            with tx:
                release = self.env.deployer.new_release(site, tx, source)
                self.env.deployer.build_release(site, formula, tx, release, fill=fill)
                self.env.deployer.publish(site, formula, tx)
                ready = formula.ready_paths(Context(site, self.env.paths, ui, tx, release))
                with ui.step(f"health gate: release {release.id} answers {', '.join(ready)} "
                             f"on its own socket"):
                    gate.check(self.env.paths, site, release, ready,
                               keep=lambda: self.env.services.processes(site.name))
                self.go_live(site, formula, release, old, tx)
        except PwsError as exc:
            if release is not None:
                releases.record_failure(release, exc.problem)
            raise
        pruned = releases.prune(site.keep_releases)
        if pruned:
            ui.say(f"  removed old release(s) {', '.join(map(str, pruned))}")
        return release

    def rollback(self, site: Site, formula: Formula, target: Release | None) -> Release:
        """Back to target (default: the newest good release before the live one)."""
        releases = Releases(self.env.paths, site.name)
        live = releases.live()
        target = target or previous(releases, live)
        if target.id == live.id:
            raise NoRelease(f"Release {target.id} of '{site.name}' is live already.",
                            f"see `pws releases {site.name}`.")
        if target.state != READY or not releases.venv_complete(target.venv):
            raise NoRelease(f"Release {target.id} of '{site.name}' cannot be gone back to "
                            f"({target.state or 'incomplete'}).", f"see `pws releases {site.name}`.")
        tx = Transaction()
        with tx:
            ctx = Context(site, self.env.paths, self.env.ui, tx, target)
            formula.configure(ctx)  # settings of today (domains, secrets), no site code run
            self.env.deployer.publish(site, formula, tx)
            self.go_live(site, formula, target, live, tx)
        return target

    def restart_in_place(self, site: Site, formula: Formula, undo: Callable[[], None]) -> None:
        """The live release again, after what its processes read changed (the environment):
        gated first (undo() and refuse if it does not answer), then a new master."""
        live = Releases(self.env.paths, site.name).live()
        ready = formula.ready_paths(Context(site, self.env.paths, self.env.ui, Transaction(), live))
        try:
            with self.env.ui.step(f"health gate: release {live.id} with the new environment"):
                gate.check(self.env.paths, site, live, ready,
                           keep=lambda: self.env.services.processes(site.name))
        except PwsError:
            undo()
            raise
        with self.env.ui.step("new workers first, then the old go"):
            self.env.services.switch(site.name)

    def go_live(self, site: Site, formula: Formula, release: Release, old: Release,
                tx: Transaction) -> None:
        """Point `current` at release, start a new master for it, check it through nginx;
        registered with tx: going back to old (link first, then a master for it)."""
        releases, services, ui = Releases(self.env.paths, site.name), self.env.services, self.env.ui
        state = {"master_started": True}

        def back() -> None:
            releases.switch(old)
            if state["master_started"]:
                services.switch(site.name)
            else:
                services.restart(site.name)

        tx.on_rollback(f"back to release {old.id}", back)
        releases.switch(release)
        with ui.step(f"switching to release {release.id} (new workers first, then the old go)"):
            try:
                services.switch(site.name)
            except CommandFailed:
                state["master_started"] = False
                raise
        ctx = Context(site, self.env.paths, ui, tx, release)
        for path in formula.ready_paths(ctx):
            with ui.step(f"checking {path} through nginx"):
                status = probe.wait_until_answers(site.domains[0], path,
                                                  within=NGINX_CHECK_SECONDS)
            if status is None:
                raise gate.GateFailed(f"Release {release.id} of '{site.name}' did not answer "
                                      f"GET {path} through nginx without a server error.",
                                      f"see `pws logs {site.name}`; release {old.id} serves again.")
        # The web processes answer: now the site's other processes move to this release.
        from .commands.process_cmd import sync
        restarted = sync(self.env, site, restart=True)
        if restarted:
            ui.say(f"  processes restarted once the web answered: {', '.join(restarted)}")


def previous(releases: Releases, live: Release) -> Release:
    candidates = [r for r in releases.all() if r.state == READY and r.id < live.id]
    if not candidates:
        raise NoRelease(f"Site '{releases.name}' has no release before {live.id} to go back to.",
                        f"see `pws releases {releases.name}`.")
    return candidates[-1]
