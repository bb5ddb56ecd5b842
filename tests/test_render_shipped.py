"""The shipped sample files are generated from etc/heat/samples.topology.yaml
and must not drift from it; they pass Apache's syntax check."""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath

import pytest

from heat_wsgi.loader import load_topology
from heat_wsgi.shipped import SAMPLE_NOTE, SAMPLES_TOPOLOGY, USERS_DOC, shipped_files
from render_checks import apache_check
from conftest import REPO



@pytest.fixture(scope="module")
def expected() -> dict[PurePosixPath, str]:
    return shipped_files(load_topology(REPO / SAMPLES_TOPOLOGY))


def test_shipped_files_match_the_samples_topology(expected: dict[PurePosixPath, str]) -> None:
    on_disk = {PurePosixPath(p.relative_to(REPO).as_posix())
               for p in (REPO / "httpd" / "files").iterdir()}
    on_disk |= {PurePosixPath(p.relative_to(REPO).as_posix())
                for p in (REPO / "etc" / "heat").glob("*-uwsgi.ini")}
    assert on_disk == set(expected), "regenerate with: python -m heat_wsgi.shipped"
    for rel, text in expected.items():
        assert (REPO / rel).read_text() == text, f"{rel} drifted: python -m heat_wsgi.shipped"


def test_the_expected_set_is_shipped(expected: dict[PurePosixPath, str]) -> None:
    names = {p.name for p in expected}
    for program in ("heat-api", "heat-api-cfn", "heat-api-cloudwatch"):
        assert {f"{program}.conf", f"{program}.wsgi", f"uwsgi-{program}.conf",
                f"uwsgi-uds-{program}.conf", f"{program}-uwsgi.ini"} <= names


def test_apache_files_say_where_they_go(expected: dict[PurePosixPath, str]) -> None:
    for rel, text in expected.items():
        if rel.suffix != ".conf":
            continue
        head = text.split("Listen")[0]
        assert "/etc/apache2/sites-available" in head and "a2ensite" in head, rel
        assert "a2enmod" in head and "sites-enabled" in head, rel
        assert "/etc/httpd/conf.d" in head, rel


def test_uwsgi_ini_serves_both_apache_modes(expected: dict[PurePosixPath, str]) -> None:
    for program in ("heat-api", "heat-api-cfn", "heat-api-cloudwatch"):
        ini = expected[PurePosixPath(f"etc/heat/{program}-uwsgi.ini")]
        http = re.search(r"(?m)^http-socket = 127\.0\.0\.1:(\d+)$", ini)
        assert http and 1 <= int(http.group(1)) <= 65535
        assert f"\nsocket = /run/heat/{program}.sock\n" in ini
        assert "\nchmod-socket = 660\n" in ini and "666" not in ini
        assert "lazy-apps" not in ini
        module = {"heat-api": "api", "heat-api-cfn": "cfn", "heat-api-cloudwatch": "cloudwatch"}[program]
        assert f"\nmodule = heat_wsgi.{module}:application\n" in ini
        # The Apache sites point at the same sockets and ports.
        uds = expected[PurePosixPath(f"httpd/files/uwsgi-uds-{program}.conf")]
        assert f"unix:/run/heat/{program}.sock|uwsgi://" in uds
        proxy = expected[PurePosixPath(f"httpd/files/uwsgi-{program}.conf")]
        assert f"http://127.0.0.1:{http.group(1)}/" in proxy


def test_wsgi_scripts_name_the_config_then_import(expected: dict[PurePosixPath, str]) -> None:
    script = expected[PurePosixPath("httpd/files/heat-api.wsgi")]
    # The samples read the one heat.conf that ships, not per-instance copies.
    assert 'os.environ.setdefault("OS_HEAT_CONFIG_FILES", "/etc/heat/heat.conf")' in script
    assert script.rstrip().endswith("from heat_wsgi.api import application  # noqa: E402,F401")
    compile(script, "heat-api.wsgi", "exec")
    site = expected[PurePosixPath("httpd/files/heat-api.conf")]
    assert "WSGIScriptAlias / /var/www/cgi-bin/heat/heat-api.wsgi" in site


def test_every_sample_says_it_is_edited_and_where_it_goes(expected: dict[PurePosixPath, str]) -> None:
    for rel, text in expected.items():
        head = "\n".join(line for line in text.splitlines() if line.startswith("#"))
        assert "\n".join(SAMPLE_NOTE) in head, rel
        assert "render again" not in text, rel
        assert "Debian/Ubuntu" in head and "Red Hat" in head, rel
        assert (REPO / USERS_DOC).is_file()


def test_samples_name_only_config_files_that_ship(expected: dict[PurePosixPath, str]) -> None:
    shipped = {p.name for p in (REPO / "etc" / "heat").iterdir()}
    for rel, text in expected.items():
        for name in re.findall(r"/etc/heat/([\w.-]+\.conf)\b", text):
            assert name in shipped, (rel, name)


def test_uwsgi_and_mod_wsgi_run_as_the_service_user(expected: dict[PurePosixPath, str]) -> None:
    for rel, text in expected.items():
        if rel.suffix == ".ini":
            assert text.endswith("\nuid = heat\ngid = heat\n"), rel
            assert "chown-socket = heat:www-data\n" in text, rel
        elif "\n    WSGIDaemonProcess " in text:
            assert " user=heat group=heat home=/var/lib/heat " in text, rel
        # No setting names another user: the proxy sites run in Apache's own
        # workers, and only the uwsgi socket's group is Apache's.
        settings = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
        assert "www-data" not in settings.replace("chown-socket = heat:www-data", ""), rel


@pytest.mark.real
def test_shipped_apache_files_pass_the_syntax_check(expected: dict[PurePosixPath, str],
                                                     tmp_path: Path) -> None:
    logs = tmp_path / "log"
    logs.mkdir()
    for rel, text in expected.items():
        if rel.suffix != ".conf":
            continue
        site = tmp_path / rel.name
        # Only the log directory moves: /var/log/heat need not exist here;
        # nor does the heat user the mod_wsgi daemons run as.
        site.write_text(text.replace("/var/log/heat/", f"{logs}/")
                        .replace(" user=heat group=heat ", " user=www-data group=www-data "))
        result = apache_check(tmp_path / f"apache-{rel.stem}", [site])
        assert result.returncode == 0, (rel, result.stderr)


@pytest.mark.real
@pytest.mark.parametrize("program", ["heat-api", "heat-api-cfn", "heat-api-cloudwatch"])
def test_shipped_uwsgi_ini_starts(expected: dict[PurePosixPath, str], tmp_path: Path, program: str) -> None:
    """What the entrypoint tests do with the shipped ini: move addresses and
    paths, swap the app for a tiny one, start it, and reach both sockets."""
    import stat

    from render_checks import start_uwsgi, stop, wait_http, wait_path, wait_workers
    run, log, app = tmp_path / "run", tmp_path / "log", tmp_path / "app"
    for d in (run, log, app):
        d.mkdir()
    text = expected[PurePosixPath(f"etc/heat/{program}-uwsgi.ini")]
    text = (text.replace("/run/heat/", f"{run}/").replace("/var/log/heat/", f"{log}/")
            .replace("127.0.0.1:", "127.0.0.44:")
            # no "heat" user on a test machine: the test runs as root
            .replace("chown-socket = heat:", "chown-socket = root:")
            .replace("\nuid = heat\ngid = heat\n", "\n"))
    assert not re.search(r"(?m)= heat(:|$)", text)
    text = re.sub(r"(?m)^module = .*$", "module = tinyapp:application", text)
    text = re.sub(r"(?m)^virtualenv = .*\n", "", text)
    ini = tmp_path / "x.ini"
    ini.write_text(text)
    port = re.search(r"(?m)^http-socket = 127\.0\.0\.44:(\d+)$", text).group(1)  # type: ignore[union-attr]
    proc = start_uwsgi(ini, app, tmp_path / "uwsgi.out")
    try:
        assert wait_http(f"http://127.0.0.44:{port}/healthcheck", proc) == b"tiny /healthcheck"
        sock = run / f"{program}.sock"
        wait_path(sock, proc)
        assert stat.S_IMODE(sock.stat().st_mode) == 0o660
        workers = re.search(r"(?m)^processes = (\d+)$", text).group(1)  # type: ignore[union-attr]
        wait_workers(log / f"uwsgi-{program}.log", workers, proc)
    finally:
        assert stop(proc) == 0


def test_the_users_page_makes_the_directories_the_samples_need() -> None:
    """doc/users-and-directories.rst's ``install -d`` lines are what the
    renderer says each sample host needs (hostdirs), owner and mode alike;
    the samples keep their uwsgi ini files in /etc/heat itself, not in a
    uwsgi/ subdirectory."""
    from heat_wsgi.derive.index import build_index
    from heat_wsgi.render.hostdirs import host_directories
    topology = load_topology(REPO / SAMPLES_TOPOLOGY)
    index = build_index(topology)
    needed = {(d.path, d.owner, d.group, d.mode) for host in topology.hosts
              for d in host_directories(topology, host, index) if not d.path.endswith("/uwsgi")}
    page = (REPO / USERS_DOC).read_text()
    made = {(path, owner, group, int(mode, 8)) for owner, group, mode, path in
            re.findall(r"(?m)^    install -d -o (\S+) -g (\S+) -m (\d+) (\S+)$", page)}
    assert made == needed
    assert "d /run/heat 0755 heat heat -" in page   # the tmpfiles.d line, as rendered
