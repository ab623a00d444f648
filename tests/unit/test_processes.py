"""A site's processes and timers: their grammar in site.toml, the project's Procfile, the
unit files (names only, never a command), what the launcher runs."""
import shutil

import pytest

from pws import launch, processes
from pws.errors import InvalidInput, PwsError
from pws.paths import Paths, SOURCE_TREE
from pws.services.process_units import ProcessUnits
from pws.site import Site


def site(**kw):
    return Site(name="shop", formula="wsgi", app="a:b", domains=["shop.example.org"], **kw)


def test_processes_and_timers_round_trip_through_site_toml():
    s = site(processes={"worker": {"command": "rq worker -u unix:///x", "count": 2}},
             timers={"nightly": {"on": "03:00", "command": "python manage.py clearsessions"}})
    again = Site.from_toml(s.check().to_toml(), "site.toml")
    assert again.processes == {"worker": {"command": "rq worker -u unix:///x", "count": 2}}
    assert again.timers["nightly"]["on"] == "03:00"


def test_count_defaults_to_one():
    assert site(processes={"w": {"command": "run"}}).check().processes["w"]["count"] == 1


@pytest.mark.parametrize("procs, message", [
    ({"Worker": {"command": "x"}}, "process name 'Worker' is not valid"),
    ({"a-b": {"command": "x"}}, "process name 'a-b' is not valid"),
    ({"w.x": {"command": "x"}}, "not valid"),
    ({"w": {"command": "x", "count": 99}}, "count 99"),
    ({"w": {"command": "x", "count": True}}, "count True"),
    ({"w": {"command": "x", "user": "root"}}, "unknown key"),
    ({"w": {}}, "command is missing"),
    ({"w": {"command": "/bin/sh -c 'id'"}}, "is not a command line"),
    ({"w": {"command": "x\ny"}}, "is not a command line"),
])
def test_bad_processes_are_refused_with_one_line(procs, message):
    with pytest.raises(InvalidInput, match=message):
        site(processes=procs).check()


@pytest.mark.parametrize("spec", ["03:00\nExecStart=/bin/sh", "%h", "daily; rm", "", "x" * 200])
def test_calendar_specs_that_could_inject_are_refused_before_systemd(spec):
    with pytest.raises(InvalidInput, match="not a calendar spec pws accepts"):
        processes.calendar(spec)


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="needs systemd-analyze")
def test_calendar_specs_are_checked_by_systemd_analyze():
    assert processes.calendar("Mon *-*-* 04:00") == "Mon *-*-* 04:00"
    with pytest.raises(InvalidInput, match="'25:99' is not a valid calendar spec"):
        processes.calendar("25:99")


def test_procfile_maps_worker_and_release_and_notes_web(tmp_path):
    (tmp_path / "Procfile").write_text("# comment\nweb: gunicorn app:app\n"
                                       "worker: rq worker\nrelease: python manage.py migrate\n")
    procs, release, notes = processes.read_procfile(tmp_path)
    assert procs == {"worker": {"command": "rq worker", "count": 1}}
    assert release == ["python manage.py migrate"]
    assert "web: ignored" in notes[0]


@pytest.mark.parametrize("text, message", [
    ("worker rq worker\n", "line 1 is not `name: command`"),
    ("../x: rq\n", "not valid"),
    ("worker: `id`\n", "is not a command line"),
    ("worker: /usr/bin/id\n", "is not a command line"),
])
def test_a_hostile_procfile_is_refused_with_its_line(tmp_path, text, message):
    (tmp_path / "Procfile").write_text(text)
    with pytest.raises(InvalidInput, match=message):
        processes.read_procfile(tmp_path)


def test_a_procfile_that_is_a_link_is_not_followed(tmp_path):
    (tmp_path / "elsewhere").write_text("worker: rq worker\n")
    (tmp_path / "Procfile").symlink_to(tmp_path / "elsewhere")
    with pytest.raises(Exception):
        processes.read_procfile(tmp_path)


def test_site_toml_wins_over_the_procfile():
    s = site(processes={"worker": {"command": "mine", "count": 3}})
    merged = processes.effective(s, {"worker": {"command": "theirs", "count": 1},
                                     "beat": {"command": "b", "count": 1}})
    assert merged["worker"]["command"] == "mine" and "beat" in merged


def test_unit_prefixes_parse_back_one_way_only():
    assert processes.unit_prefix("my-shop", "proc", "worker") == "pws-proc-my-shop.worker"
    assert processes.parse_prefix("pws-proc-my-shop.worker") == ("my-shop", "proc", "worker")
    assert processes.parse_prefix("pws-timer-a.b") == ("a", "timer", "b")
    assert processes.parse_prefix("pws-proc-a.b/../x") is None
    assert processes.parse_prefix("pws-proc-a") is None


def test_unit_files_hold_names_only_and_are_hardened(tmp_path):
    units = ProcessUnits(Paths(root=tmp_path, share=SOURCE_TREE))
    s = site(processes={"worker": {"command": "rq worker --secret-flag", "count": 2}},
             timers={"nightly": {"on": "03:00", "command": "python clean.py"}}).check()
    files = {p.name: text for p, text in units._files(s, s.processes).items()}
    assert set(files) == {"pws-proc-shop.worker@.service", "pws-timer-shop.nightly.service",
                          "pws-timer-shop.nightly.timer"}
    proc = files["pws-proc-shop.worker@.service"]
    assert "User=pws-shop" in proc and "Restart=always" in proc
    assert "ExecStart=/opt/venvs/pws/bin/python3 -I -m pws.launch shop proc worker" in proc
    assert "ProtectSystem=strict" in proc and "NoNewPrivileges=yes" in proc
    assert "OnFailure=pws-alert@%p.service" in proc
    assert all("secret-flag" not in t and "clean.py" not in t for t in files.values())
    timer = files["pws-timer-shop.nightly.timer"]
    assert "OnCalendar=03:00" in timer and "Persistent=true" in timer
    assert "Type=oneshot" in files["pws-timer-shop.nightly.service"]
    assert "$" not in "".join(files.values()).replace("$MAINPID", "")


def test_the_launcher_finds_the_command_or_says_which_is_missing():
    s = site(processes={"worker": {"command": "rq worker", "count": 1}},
             timers={"nightly": {"on": "daily", "command": "python clean.py"}}).check()
    assert launch.command_of(s, "proc", "worker", {}) == "rq worker"
    assert launch.command_of(s, "proc", "beat", {"beat": {"command": "b", "count": 1}}) == "b"
    assert launch.command_of(s, "timer", "nightly", {}) == "python clean.py"
    with pytest.raises(PwsError, match="has no proc 'nope'"):
        launch.command_of(s, "proc", "nope", {})


@pytest.mark.parametrize("spec, fields", [
    ("hourly", "0 * * * *"), ("daily", "0 0 * * *"), ("03:00", "0 3 * * *"),
    ("*:15", "15 * * * *"), ("*:0/5", "0-59/5 * * * *"), ("7:05:00", "5 7 * * *"),
])
def test_without_systemd_timers_become_cron_lines(spec, fields):
    from pws.services.sysv_processes import cron_fields
    assert cron_fields(spec) == fields


@pytest.mark.parametrize("spec", ["Mon *-*-* 04:00", "25:00", "*:*:0/2", "*:0/0"])
def test_specs_cron_cannot_say_are_refused_without_systemd(spec):
    from pws.services.sysv_processes import cron_fields
    with pytest.raises(InvalidInput, match="no cron equivalent"):
        cron_fields(spec)


def test_sysv_cron_file_runs_pws_timer_run_as_root(tmp_path):
    from pws.services.sysv_processes import SysvProcesses
    units = SysvProcesses(Paths(root=tmp_path, share=SOURCE_TREE))
    s = site(timers={"nightly": {"on": "03:00", "command": "python clean.py"}}).check()
    units._write_cron(s)
    text = (tmp_path / "etc/cron.d/pws-shop").read_text()
    assert "0 3 * * * root /usr/bin/pws timer shop run nightly" in text
    assert "clean.py" not in text
    units._write_cron(site().check())
    assert not (tmp_path / "etc/cron.d/pws-shop").exists()


def test_an_owners_limits_bind_every_process_and_timer_run(tmp_path):
    units = ProcessUnits(Paths(root=tmp_path, share=SOURCE_TREE))
    s = site(processes={"worker": {"command": "rq worker"}},
             timers={"nightly": {"on": "03:00", "command": "python clean.py"}},
             owner="alice", limits={"MemoryMax": "256M", "TasksMax": "64"}).check()
    services = [text for p, text in units._files(s, s.processes).items()
                if p.name.endswith(".service")]
    assert len(services) == 2
    assert all("\nMemoryMax=256M\nTasksMax=64\n" in text for text in services)
