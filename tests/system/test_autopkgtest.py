"""Issue 13: debian/tests (DEP-8) run by autopkgtest as Debian's CI would, against the packages
installed by name from the signed repository, inside a booted container of the suite
(autopkgtest's `null` virtualisation server: the container is the testbed, so the tests'
isolation-container and breaks-testbed restrictions hold)."""
from __future__ import annotations

import re
from pathlib import Path

import container

REPO = Path(__file__).resolve().parents[2]
TESTS = ("smoke", "purge")


def test_debian_tests_pass_under_autopkgtest(bare_ct, debs):
    ct = bare_ct
    assert all(container.published(d) for d in debs), "run make repo"
    container.serve_repo(ct)  # autopkgtest installs the tests' Depends with apt, by name
    # debian/tests alone (a tree autopkgtest takes as built): the tests' Depends come from
    # the archive, the repository here, by name; nothing is built (no dpkg-dev needed).
    ct.copy_in(REPO / "debian" / "tests", "/root/src/debian/tests")
    # null (the testbed is this machine) cannot revert or isolate; the container is both
    # isolated and thrown away after the module, which is what those restrictions ask for.
    proc = ct.run("autopkgtest --output-dir /root/autopkgtest-out "
                  "--ignore-restrictions=breaks-testbed,isolation-container /root/src -- null",
                  check=False, timeout=1200)
    container.stop_repo(ct)
    summary = ct.run("cat /root/autopkgtest-out/summary", check=False).stdout
    print(f"\n[autopkgtest {container.SUITE}]\n{summary}")
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]
    for name in TESTS:
        assert re.search(rf"^{name}\s+PASS\b", summary, re.M), summary
    assert ct.run("dpkg-query -W -f '${Status}' pws", check=False).stdout != "install ok installed"
