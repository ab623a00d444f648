"""Booted Debian 12 or 13 containers for the system tests (docs/architecture.md, tests).

The suite is PWS_SUITE (bookworm, the default, or trixie); the packages come from
dist/SUITE/ (DIST overrides it) and are installed by name from the signed APT repository
`make repo` publishes in dist/repo/, served over HTTP on the container's loopback.

A plain library, usable from pytest fixtures and from scripts (demo.py):

    image = ensure_image(["postgresql"])            # cached mmdebstrap tarball
    wheels = ensure_wheelhouse(["gunicorn==27.0.1"])  # cached wheels for offline pip
    with Container(image, wheels) as ct:            # systemd as PID 1, private network
        install_debs(ct, find_debs())                 # apt install pws ... from dist/repo
        ct.run("mksite ...")
        status, body = http(ct, "http://127.0.0.1/", host="hello.example.org")

Needs root, mmdebstrap, systemd-nspawn (systemd-container) and nsenter (util-linux).
"""

from __future__ import annotations

import ctypes
import fcntl
import hashlib
import importlib
import importlib.util
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import re
import time
import uuid
from pathlib import Path

# Bump to force a rebuild of every cached image (e.g. after changing how images are made).
IMAGE_VERSION = "1"
SUITE = os.environ.get("PWS_SUITE") or "bookworm"
# Each suite's python3 (the site venvs' interpreter, so the wheels the wheelhouse needs).
SUITE_PYTHON = {"bookworm": (3, 11), "trixie": (3, 13)}
if SUITE not in SUITE_PYTHON:
    raise RuntimeError(f"PWS_SUITE={SUITE!r}: bookworm or trixie")
PYTHON = SUITE_PYTHON[SUITE]
PYTHON_DIR = "python%d.%d" % PYTHON  # e.g. a venv's lib/python3.11
MIRROR = os.environ.get("PWS_MIRROR", "http://deb.debian.org/debian")
BASE_PACKAGES = (
    "systemd", "systemd-sysv", "dbus", "nginx", "python3", "python3-venv", "curl",
    "procps", "iproute2", "ca-certificates", "adduser", "diffutils", "less",
)
CACHE = Path("/var/cache/pws")
IMAGES = CACHE / "images"
WHEELHOUSE = CACHE / "wheelhouse"
CT_WHEELHOUSE = "/var/cache/pws/wheelhouse"  # where the wheels are inside the container
WORK_PARENT = Path("/var/tmp")
REPO = Path(__file__).resolve().parents[2]
DIST = REPO / (os.environ.get("DIST") or f"dist/{SUITE}")  # the Makefile exports DIST
APT_REPO = REPO / (os.environ.get("PWS_APT_REPO") or "dist/repo")  # made by `make repo`
KEYRING = "pws-archive-keyring.gpg"  # the repository's public key, at its top

# The environment of every command run in a container: nothing leaks in from the host
# (this host sets PIP_FIND_LINKS, PIP_CERT, a pyenv PATH, ...).
CT_ENV = {
    "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "HOME": "/root",
    "LANG": "C.UTF-8",
    "TERM": "dumb",
    "DEBIAN_FRONTEND": "noninteractive",
}
PIP_CONF = f"[global]\nno-index = true\nfind-links = {CT_WHEELHOUSE}\n"


class ContainerError(RuntimeError):
    """The container could not be built, booted or driven."""


class CommandError(ContainerError):
    """A command in the container exited non-zero (run(..., check=True))."""

    def __init__(self, cmd, returncode: int, stdout: str, stderr: str):
        self.cmd, self.returncode, self.stdout, self.stderr = cmd, returncode, stdout, stderr
        super().__init__(
            f"command {cmd!r} exited {returncode}\n"
            f"--- stdout ---\n{stdout}--- stderr ---\n{stderr}"
        )


def log(msg: str) -> None:
    print(f"[pws-system] {msg}", file=sys.stderr, flush=True)


def _digest(items) -> str:
    return hashlib.sha256("\n".join(items).encode()).hexdigest()[:12]


class _Lock:
    """An exclusive flock on PATH, so two test runs don't build the same cache at once."""

    def __init__(self, path: Path):
        self.path = path

    def __enter__(self):
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o644)
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        return self

    def __exit__(self, *exc):
        os.close(self.fd)


# ---------------------------------------------------------------- image


def image_packages(extra=()) -> list[str]:
    """The sorted, de-duplicated package list of an image: the base list plus EXTRA."""
    return sorted(set(BASE_PACKAGES) | set(extra))


def ensure_image(packages=()) -> Path:
    """The cached tarball of a SUITE image with BASE_PACKAGES + PACKAGES (built once)."""
    pkgs = image_packages(packages)
    path = IMAGES / f"{SUITE}-{_digest([IMAGE_VERSION, SUITE, MIRROR, *pkgs])}.tar"
    with _Lock(IMAGES / f".{path.name}.lock"):  # one per image: two suites build at once
        if path.exists():
            log(f"image {path} (cached)")
            return path
        _build_image(pkgs, path)
    return path


def _build_image(pkgs: list[str], path: Path) -> None:
    log(f"building image {path.name}: {SUITE} + {','.join(pkgs)}")
    started = time.monotonic()
    tmp = path.with_name(f".tmp-{os.getpid()}-{path.name}")  # mmdebstrap goes by the suffix
    cmd = ["mmdebstrap", "--variant=apt", "--quiet", f"--include={','.join(pkgs)}",
           SUITE, str(tmp), MIRROR]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise ContainerError(f"mmdebstrap failed ({proc.returncode}):\n{proc.stderr[-4000:]}")
        shutil.rmtree(path.with_suffix(".tree"), ignore_errors=True)  # extracted from an older one
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    log(f"built image in {time.monotonic() - started:.1f} s")


def ensure_tree(image: Path) -> Path:
    """The image extracted once, next to it, as the read-only lower layer of every container."""
    tree = image.with_suffix(".tree")
    with _Lock(IMAGES / f".{image.name}.lock"):
        if not tree.exists():
            _extract(image, tree)
    return tree


def _extract(image: Path, tree: Path) -> None:
    started = time.monotonic()
    tmp = tree.with_name(f".tmp-{os.getpid()}-{tree.name}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    tar = subprocess.run(["tar", "-C", str(tmp), "--numeric-owner", "--xattrs",
                          "--xattrs-include=*", "-xpf", str(image)], capture_output=True, text=True)
    if tar.returncode != 0:
        shutil.rmtree(tmp, ignore_errors=True)
        raise ContainerError(f"cannot extract {image}:\n{tar.stderr}")
    os.rename(tmp, tree)
    log(f"extracted {image.name} in {time.monotonic() - started:.1f} s")


# ---------------------------------------------------------------- wheelhouse


def _host_pip() -> list[str]:
    """Debian's pip if installed, else ours (_target_flags asks for the container's wheels)."""
    debian = Path("/usr/bin/python3")
    if debian.exists() and subprocess.run([debian, "-m", "pip", "--version"],
                                          capture_output=True).returncode == 0:
        return [str(debian), "-m", "pip"]
    return [sys.executable, "-m", "pip"]


def _target_flags(pip: list[str], python: tuple[int, int] = PYTHON) -> list[str]:
    """Empty if pip runs on CPython PYTHON/x86_64 (the container's); else ask for its wheels."""
    probe = f"import sys, platform; print(sys.version_info[:2] == {python} and platform.machine())"
    out = subprocess.run([*pip[:1], "-c", probe], capture_output=True, text=True).stdout.strip()
    if out == "x86_64":
        return []
    tag = "%d%d" % python
    return ["--python-version", "%d.%d" % python, "--implementation", "cp", "--abi", f"cp{tag}",
            "--only-binary=:all:", "--platform", "manylinux2014_x86_64",
            "--platform", "manylinux_2_28_x86_64", "--platform", "linux_x86_64"]


def _pip_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    if "PIP_CERT" in os.environ:  # the registry's TLS proxy CA (docs/architecture.md)
        env["PIP_CERT"] = os.environ["PIP_CERT"]
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


def ensure_wheelhouse(requirements, foreign=()) -> Path:
    """Download REQUIREMENTS (and their dependencies) for the suite's Python into WHEELHOUSE
    once; return it. FOREIGN: (requirement, python) pairs fetched alone (no dependencies) for
    another Python, so a test can ask for what this suite's Python cannot run."""
    reqs = sorted(set(requirements))
    key = [*reqs] if PYTHON == (3, 11) else [*reqs, f"python {PYTHON}"]  # bookworm: as before
    key += [f"{req} for {py}" for req, py in sorted(foreign)]
    stamp = WHEELHOUSE / ".stamps" / _digest(key)
    with _Lock(CACHE / ".wheelhouse.lock"):
        if stamp.exists():
            log(f"wheelhouse {WHEELHOUSE} (cached: {' '.join(reqs)}, Python {PYTHON})")
            return WHEELHOUSE
        log(f"downloading into {WHEELHOUSE} for Python {PYTHON}: {' '.join(reqs)}")
        pip = _host_pip()
        _pip_download([*pip, "download", "--quiet", "--dest", str(WHEELHOUSE),
                       *_target_flags(pip), *reqs])
        for req, py in foreign:
            _pip_download([*pip, "download", "--quiet", "--no-deps", "--dest", str(WHEELHOUSE),
                           *_target_flags(pip, py), req])
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text("\n".join(key) + "\n")
    return WHEELHOUSE


def _pip_download(cmd: list[str]) -> None:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=_pip_env())
    if proc.returncode != 0:
        raise ContainerError(f"pip download failed ({proc.returncode}):\n{proc.stderr[-4000:]}")


# ---------------------------------------------------------------- the container


def _set_pdeathsig() -> None:
    """In the nspawn child: get SIGTERM (= clean container shutdown) if the test process dies."""
    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            kids.append(int(entry.name))
    return kids


def _pid_ns(pid) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return None


class Container:
    """A Debian image booted with systemd-nspawn (systemd as PID 1, private network).

    Use as a context manager; __exit__ always stops it and removes its directory
    (kept if PWS_KEEP_CONTAINER=1 is set).
    """

    def __init__(self, image: Path, wheelhouse: Path | None = None, name: str | None = None,
                 boot_timeout: float = 60):
        self.image, self.wheelhouse, self.boot_timeout = Path(image), wheelhouse, boot_timeout
        self.name = name or f"pws-{uuid.uuid4().hex[:8]}"
        self.workdir: Path | None = None  # upper/ holds what the container changed
        self.lower: Path | None = None  # the shared, read-only image tree
        self.leader_pid: int | None = None  # the container's PID 1, seen from the host
        self._nspawn: subprocess.Popen | None = None

    # -- lifecycle

    def __enter__(self) -> "Container":
        try:
            self._prepare()
            self._boot()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            self.stop()
        finally:
            self._remove()

    def _prepare(self) -> None:
        """Make the container's writable layer: its own files, over the shared image tree."""
        self.lower = ensure_tree(self.image)
        self.workdir = Path(tempfile.mkdtemp(prefix="pws-ct-", dir=WORK_PARENT))
        for sub in ("upper", "ovl", "root"):
            (self.workdir / sub).mkdir()
        upper = self.workdir / "upper"
        (upper / "etc").mkdir()
        (upper / "etc/pip.conf").write_text(PIP_CONF)
        (upper / "etc/hostname").write_text(f"{self.name}\n")
        if self.wheelhouse:
            shutil.copytree(self.wheelhouse, upper / CT_WHEELHOUSE.lstrip("/"),
                            ignore=shutil.ignore_patterns(".*"))

    def _nspawn_cmd(self) -> list[str]:
        """nspawn on an overlay mounted in a mount namespace of its own (gone with nspawn)."""
        w = self.workdir
        mount = (f'mount -t overlay overlay -o "lowerdir={self.lower},upperdir={w}/upper,'
                 f'workdir={w}/ovl" "{w}/root" && exec "$0" "$@"')
        return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", mount,
                "systemd-nspawn", "--quiet", "-D", str(w / "root"), "--boot", "--register=no",
                "--keep-unit", "--private-network", f"--machine={self.name}", "--console=passive"]

    def _boot(self) -> None:
        started = time.monotonic()
        self.log_path = self.workdir / "nspawn.log"
        with open(self.log_path, "wb") as logf:
            self._nspawn = subprocess.Popen(self._nspawn_cmd(), stdin=subprocess.DEVNULL,
                                            stdout=logf, stderr=subprocess.STDOUT,
                                            start_new_session=True, preexec_fn=_set_pdeathsig)
        deadline = started + self.boot_timeout
        self.leader_pid = self._wait_for_leader(deadline)
        state = self._wait_until_running(deadline)
        log(f"{self.name}: booted ({state}) in {time.monotonic() - started:.1f} s")

    def _fail(self, why: str):
        raise ContainerError(f"{self.name}: {why}\n--- nspawn log (tail) ---\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except (AttributeError, OSError):
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def _check_alive(self) -> None:
        if self._nspawn.poll() is not None:
            self._fail(f"systemd-nspawn exited with {self._nspawn.returncode} while booting")

    def _wait_for_leader(self, deadline: float) -> int:
        """The container's PID 1: the child of nspawn in a PID namespace of its own."""
        own_ns = _pid_ns("self")
        while time.monotonic() < deadline:
            self._check_alive()
            for kid in _children(self._nspawn.pid):
                ns = _pid_ns(kid)
                if ns and ns != own_ns:
                    return kid
            time.sleep(0.1)
        self._fail("no container leader process appeared")

    def _wait_until_running(self, deadline: float) -> str:
        state = "unknown"
        while time.monotonic() < deadline:
            self._check_alive()
            left = max(1.0, deadline - time.monotonic())
            try:
                proc = self.run(["systemctl", "is-system-running", "--wait"], check=False,
                                timeout=left)
            except subprocess.TimeoutExpired:
                break
            state = proc.stdout.strip() or proc.stderr.strip()
            if state in ("running", "degraded"):
                return state
            time.sleep(0.2)
        self._fail(f"not running after {self.boot_timeout:g} s (last state: {state})")

    def stop(self, timeout: float = 30) -> None:
        """Power the container off: SIGTERM to nspawn, then SIGKILL (leader first) after TIMEOUT."""
        proc, self._nspawn = self._nspawn, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log(f"{self.name}: did not stop within {timeout:g} s, killing it")
        self._kill_leader()  # a no-op after a clean stop
        proc.kill()
        proc.wait()

    def _kill_leader(self) -> None:
        """SIGKILL the container's PID 1 if it outlived nspawn: that ends every process in it."""
        if not self.leader_pid or _pid_ns(self.leader_pid) in (None, _pid_ns("self")):
            return
        try:
            os.kill(self.leader_pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    @property
    def nspawn_pid(self) -> int | None:
        return self._nspawn.pid if self._nspawn else None

    @property
    def running(self) -> bool:
        return self._nspawn is not None and self._nspawn.poll() is None

    def _remove(self) -> None:
        if self.workdir is None:
            return
        if os.environ.get("PWS_KEEP_CONTAINER") == "1":
            log(f"{self.name}: kept {self.workdir} (PWS_KEEP_CONTAINER=1)")
            return
        shutil.rmtree(self.workdir, ignore_errors=True)
        self.workdir = None

    # -- driving it

    def _argv(self, cmd) -> list[str]:
        if not self.running:
            raise ContainerError(f"{self.name} is not running")
        inner = ["/bin/sh", "-c", cmd] if isinstance(cmd, str) else [str(c) for c in cmd]
        return ["nsenter", "-t", str(self.leader_pid), "-a", "--", *inner]

    def _exec(self, cmd, input, timeout, env, text):
        """Run CMD in the container; on timeout kill its whole process group."""
        proc = subprocess.Popen(
            self._argv(cmd), env={**CT_ENV, **(env or {})}, text=text,
            stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
        try:
            out, err = proc.communicate(input, timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            raise
        return subprocess.CompletedProcess(cmd, proc.returncode, out, err)

    def run(self, cmd, check: bool = True, input: str | None = None, timeout: float = 300,
            env: dict | None = None) -> subprocess.CompletedProcess:
        """Run CMD (a str goes through /bin/sh -c, a list is exec'd) as root in the container.

        Returns a CompletedProcess with text stdout/stderr; raises CommandError if CHECK and
        it fails, subprocess.TimeoutExpired after TIMEOUT s (its processes killed). ENV is
        added to CT_ENV. A process left in the background must not keep stdout/stderr open
        (`cmd >/dev/null 2>&1 &`), or run() waits for it; better, start it as a unit
        (`systemd-run --unit=NAME ...`).
        """
        proc = self._exec(cmd, input, timeout, env, text=True)
        if check and proc.returncode != 0:
            raise CommandError(cmd, proc.returncode, proc.stdout, proc.stderr)
        return proc

    def _untar(self, data: bytes) -> None:
        proc = self._exec(["tar", "-C", "/", "-xf", "-"], data, 300, None, text=False)
        if proc.returncode != 0:
            raise CommandError("tar -C / -xf -", proc.returncode, "", proc.stderr.decode())

    @staticmethod
    def _as_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    def copy_in(self, host_path, ct_path: str) -> None:
        """Copy a host file or directory tree to CT_PATH (its new name), owned by root.

        Goes through tar inside the container, so it lands in the container's view of the
        file system (tmpfs mounts such as /tmp and /run included).
        """
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            tar.add(str(host_path), arcname=ct_path.lstrip("/"), filter=self._as_root)
        self._untar(buf.getvalue())

    def write_file(self, ct_path: str, content: str | bytes, mode: int = 0o644) -> None:
        """Create or replace CT_PATH (parents too) with CONTENT, owned by root."""
        data = content.encode() if isinstance(content, str) else content
        info = self._as_root(tarfile.TarInfo(ct_path.lstrip("/")))
        info.size, info.mode, info.mtime = len(data), mode, int(time.time())
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            tar.addfile(info, io.BytesIO(data))
        self._untar(buf.getvalue())

    def read_file(self, ct_path: str) -> str:
        """The text of CT_PATH as the container sees it (its symlinks and mounts)."""
        return self.run(["cat", "--", ct_path]).stdout

    def exists(self, ct_path: str) -> bool:
        """Whether CT_PATH exists in the container (a symlink counts, even dangling)."""
        return self.run(["sh", "-c", 'test -e "$1" || test -L "$1"', "-", ct_path],
                        check=False).returncode == 0


# ---------------------------------------------------------------- helpers


def find_debs(dist: Path = DIST) -> list[Path]:
    """The built packages, dist/*.deb (empty if none)."""
    return sorted(dist.glob("*.deb"))


def deb_dependencies(debs) -> list[str]:
    """Package names the DEBS depend on (first alternative, versions dropped), minus the DEBS.

    Put these in the image, so `apt-get install ./x.deb` needs no network.
    """
    names, deps = set(), set()
    for deb in debs:
        fields = subprocess.run(["dpkg-deb", "-f", str(deb), "Package", "Pre-Depends", "Depends"],
                                capture_output=True, text=True, check=True).stdout
        for line in fields.splitlines():
            key, _, value = line.partition(":")
            if key == "Package":
                names.add(value.strip())
            else:
                deps.update(_first_alternatives(value))
    return sorted(deps - names)


def _first_alternatives(value: str):
    for clause in value.split(","):
        first = clause.split("|")[0].split("(")[0].strip()
        if first:
            yield first.split(":")[0]


def install_debs(ct: Container, debs) -> subprocess.CompletedProcess:
    """Copy DEBS into the container's /root/debs and install them with apt.

    DEBS that `make repo` published (the same files in dist/repo's pool for SUITE) are
    installed as an admin does, by package name from the signed repository (serve_repo);
    others (an older build, another dist/) from the files. The container has no network:
    every dependency must be in the image (deb_dependencies).
    """
    debs = [Path(d) for d in debs]
    if not debs:
        raise ContainerError("no .deb to install (run make deb first)")
    ct.run(["mkdir", "-p", "/root/debs"])
    for deb in debs:
        ct.copy_in(deb, f"/root/debs/{deb.name}")
    if all(published(deb) for deb in debs):
        serve_repo(ct)
        try:
            return apt_install(ct, [deb_field(deb, "Package") for deb in debs])
        finally:
            stop_repo(ct)
    return apt_install(ct, [f"/root/debs/{d.name}" for d in debs])


# ---------------------------------------------------------------- the APT repository

REPO_PORT = 8099  # the repository's HTTP server, on the container's loopback only
REPO_SOURCES = "/etc/apt/sources.list.d/pws.list"
REPO_PIDFILE = "/run/pws-test-repo.pid"
CT_KEYRING = f"/usr/share/keyrings/{KEYRING}"


def deb_field(deb: Path, field: str) -> str:
    return subprocess.run(["dpkg-deb", "-f", str(deb), field], capture_output=True, text=True,
                          check=True).stdout.strip()


def published(deb: Path) -> bool:
    """Whether DEB is, byte for byte, the file of that name in dist/repo's pool for SUITE."""
    pooled = APT_REPO / "pool" / "main" / SUITE / deb.name
    return pooled.is_file() and (pooled.samefile(deb) or _sha256(pooled) == _sha256(deb))


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def serve_repo(ct: Container) -> None:
    """dist/repo's SUITE in the container, served by a tiny HTTP server on its loopback, as an
    apt source with signed-by (the README's install section), and its index fetched."""
    if not (APT_REPO / "dists" / SUITE / "InRelease").is_file():
        raise ContainerError(f"{APT_REPO} has no signed {SUITE} (run make repo)")
    ct.run(["mkdir", "-p", "/srv/pws-repo/dists", "/srv/pws-repo/pool/main"])
    ct.copy_in(APT_REPO / "dists" / SUITE, f"/srv/pws-repo/dists/{SUITE}")
    ct.copy_in(APT_REPO / "pool" / "main" / SUITE, f"/srv/pws-repo/pool/main/{SUITE}")
    ct.copy_in(APT_REPO / KEYRING, CT_KEYRING)
    ct.write_file(REPO_SOURCES, f"deb [signed-by={CT_KEYRING}] "
                                f"http://127.0.0.1:{REPO_PORT}/ {SUITE} main\n")
    # start-stop-daemon (dpkg's), not systemd-run: the sysvinit container installs this way too.
    ct.run(["start-stop-daemon", "--start", "--quiet", "--oknodo", "--background",
            "--make-pidfile", "--pidfile", REPO_PIDFILE, "--exec", "/usr/bin/python3", "--",
            "-m", "http.server", "--bind", "127.0.0.1", "--directory", "/srv/pws-repo",
            str(REPO_PORT)])
    ct.run(f"for i in $(seq 50); do curl -sf -o /dev/null http://127.0.0.1:{REPO_PORT}/ "
           "&& exit 0; sleep 0.1; done; exit 1")
    # Only this source: the image's Debian mirror is out of reach (no network), and its
    # packages are installed already.
    proc = ct.run(["apt-get", "update", "-o", f"Dir::Etc::SourceList={REPO_SOURCES}",
                   "-o", "Dir::Etc::SourceParts=-", "-o", "APT::Get::List-Cleanup=0"], check=False)
    if proc.returncode != 0 or "W:" in proc.stderr or "E:" in proc.stderr:
        raise CommandError("apt-get update (the pws repository)", proc.returncode, proc.stdout,
                           proc.stderr)


def stop_repo(ct: Container) -> None:
    """Stop the repository's HTTP server: the tests then see only what pws runs."""
    ct.run(["start-stop-daemon", "--stop", "--quiet", "--oknodo", "--retry", "5",
            "--pidfile", REPO_PIDFILE, "--remove-pidfile"], check=False)


def apt_install(ct: Container, what) -> subprocess.CompletedProcess:
    """`apt-get install -y WHAT` (package names or .deb paths) in the container."""
    cmd = ["apt-get", "install", "-y", *what]
    proc = ct.run(cmd, check=False)
    if proc.returncode != 0:
        raise ContainerError(
            f"{' '.join(cmd)} failed ({proc.returncode}); the container has no network, so every "
            f"dependency must be in the image (see deb_dependencies)\n"
            f"--- stdout ---\n{proc.stdout}--- stderr ---\n{proc.stderr}")
    return proc


def http(ct: Container, url: str, host: str | None = None, timeout: float = 5) -> tuple[int, str]:
    """GET URL with curl inside the container: (status, body); (0, curl's error) if no answer."""
    cmd = ["curl", "-sS", "--max-time", str(timeout), "-w", "\n%{http_code}"]
    if host:
        cmd += ["-H", f"Host: {host}"]
    proc = ct.run([*cmd, url], check=False, timeout=timeout + 10)
    body, _, code = proc.stdout.rpartition("\n")
    if proc.returncode != 0 or not code.isdigit() or code == "000":
        return 0, proc.stderr.strip()
    return int(code), body


# ---------------------------------------------------------------- what this project's tests need

# Packages the image needs besides BASE_PACKAGES and the debs' own dependencies.
# postgresql: the server of the `--db postgresql` tests (test_databases.py).
# certbot (a Recommends of pws, so not pulled in by the debs) and pebble, the ACME test
# server that validates HTTP-01 against the container's nginx (test_tls.py); git, a
# Recommends too, for `pws deploy --git`; openssh-server: a user's `git push` over their own
# SSH login to localhost (test_delegation.py). autopkgtest: runs debian/tests as installed
# (test_autopkgtest.py, with its null virtualisation server inside the booted container).
EXTRA_IMAGE_PACKAGES: tuple[str, ...] = ("postgresql", "certbot", "pebble", "git",
                                         "openssh-server", "autopkgtest")
# Framework versions for the sites the tests create (unless pws.pins pins the same name).
# setuptools: the build backend of the sample Pyramid project (tests/system/projects), a
# pyproject.toml that pip builds in an isolated environment, offline.
# fastapi: the ASGI sample project (test_asgi.py).
TEST_REQUIREMENTS = ("flask==3.1.3", "django==5.2.19", "pyramid==2.1", "setuptools==81.0.0",
                     "fastapi==0.165.0")
DEFAULT_PINS = ("gunicorn==27.0.1",)
# Dependencies behind an environment marker for a newer Python than the host's: pip download
# evaluates markers with the host's interpreter, so they are named here for the suites that
# need them (WebOb needs legacy-cgi on Python >= 3.13, which has no cgi module).
NEWER_PYTHON_REQUIREMENTS = {(3, 13): ("legacy-cgi==2.6.4",)}


def system_image_packages() -> list[str]:
    """The extra packages of the system-test image: EXTRA_IMAGE_PACKAGES + what dist/*.deb need."""
    return sorted({*EXTRA_IMAGE_PACKAGES, *deb_dependencies(find_debs())})


def site_requirements() -> list[str]:
    """The wheelhouse's requirements: pws.pins (as pws picks them on the suite's Python), plus
    TEST_REQUIREMENTS for names it doesn't pin."""
    pinned = pinned_requirements()
    pins = _load_pins()
    if pins is not None and hasattr(pins, "django_for"):  # one Django: the suite's
        pinned = [r for r in pinned if requirement_name(r) != "django"] + [pins.django_for(PYTHON)]
    names = {requirement_name(r) for r in pinned}
    marked = [r for py, reqs in NEWER_PYTHON_REQUIREMENTS.items() if PYTHON >= py for r in reqs]
    return pinned + [r for r in TEST_REQUIREMENTS if requirement_name(r) not in names] + marked


def foreign_wheels() -> list[tuple[str, tuple[int, int]]]:
    """Pins of pws.pins this suite's Python cannot run, with a Python that can: their wheels
    let a test see what pws says when a project asks for them (Django 6 on Debian 12)."""
    pins = _load_pins()
    if pins is None or not hasattr(pins, "django_for"):
        return []
    newest = max(SUITE_PYTHON.values())
    if pins.django_for(PYTHON) == pins.django_for(newest):
        return []
    return [(pins.django_for(newest), newest)]


def requirement_name(req: str) -> str:
    return re.split(r"[=<>!~\[; ]", req, 1)[0].strip().lower().replace("_", "-")


def _load_pins():
    """This checkout's src/pws/pins.py (an installed pws may come from elsewhere), else pws.pins."""
    path = REPO / "src/pws/pins.py"
    if path.exists():
        spec = importlib.util.spec_from_file_location("_pws_pins", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        return module
    try:
        return importlib.import_module("pws.pins")
    except ImportError:
        return None


def pinned_requirements() -> list[str]:
    """Every "name==version" string (alone or in a tuple/list) at the top of pws.pins."""
    pins = _load_pins()
    if pins is None:
        return list(DEFAULT_PINS)
    found = []
    for name, value in vars(pins).items():
        if name.startswith("_"):
            continue
        values = value if isinstance(value, (tuple, list)) else [value]
        found += [v for v in values if isinstance(v, str) and "==" in v and v not in found]
    return found or list(DEFAULT_PINS)
