"""Typed errors. The CLI catches PwsError once and prints its message: problem, then fix."""


class PwsError(Exception):
    """A problem the user can fix; the message names the problem and the fix."""

    exit_code = 1

    def __init__(self, problem: str, fix: str = ""):
        self.problem = problem
        self.fix = fix
        super().__init__(f"{problem} {fix}".strip())

    def __str__(self) -> str:
        return f"{self.problem}" + (f" Fix: {self.fix}" if self.fix else "")


class InvalidInput(PwsError):
    """A name, domain, app spec or path given by the user is not acceptable."""

    exit_code = 2


class NeedsRoot(PwsError):
    """The command changes the system and must run as root."""


class CommandFailed(PwsError):
    """An external command (pip, nginx -t, systemctl, ...) failed."""

    def __init__(self, problem: str, fix: str = "", output: str = ""):
        super().__init__(problem, fix)
        self.output = output


class NginxConfigError(PwsError):
    """nginx rejected a configuration; the change was rolled back."""


class SiteNotFound(PwsError):
    """No site of that name."""


class NotReady(PwsError):
    """The site was configured but did not answer in time."""


class Interrupted(BaseException):
    """SIGTERM, SIGHUP or SIGINT arrived: unwind, undoing what the run made (not a PwsError,
    so no `except PwsError` on the way swallows it)."""

    def __init__(self, signum: int):
        self.signum = signum
        super().__init__(signum)
