"""Bad configuration gets one clear message at start-up, never a traceback.

Each case boots an entrypoint in a fresh interpreter, as a web server would,
and checks the one message it prints and the 500 the stand-in app serves.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from conftest import PYTHON, write_heat_conf

pytestmark = pytest.mark.real   # each case boots Heat in a fresh Python

PROBE = """
import sys, webob
sys.argv = {argv!r}
{prelude}
import heat_wsgi.{module} as entry
print("STATUS", webob.Request.blank("/").get_response(entry.application).status_int)
"""


def boot(module: str, env: dict[str, str], argv: list[str] | None = None,
         prelude: str = "") -> tuple[int, str]:
    code = PROBE.format(argv=argv or ["server"], prelude=prelude, module=module)
    proc = subprocess.run([str(PYTHON), "-c", code], env=env, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    status = int(proc.stdout.split("STATUS")[1])
    messages = [line for line in proc.stderr.splitlines() if "heat_wsgi: cannot start" in line]
    assert len(messages) == 1, proc.stderr
    return status, messages[0]


@pytest.fixture
def conf(tmp_path: Path) -> Path:
    return write_heat_conf(tmp_path / "etc" / "heat.conf",
                           transport_url="rabbit://guest:guest@127.0.0.1:5672/")


def test_no_config_anywhere_lists_the_files_looked_for(clean_env):
    assert not Path("/etc/heat/heat.conf").exists(), "test assumes no system heat.conf"
    status, message = boot("api", clean_env)
    assert status == 500
    assert f"{clean_env['HOME']}/.heat/heat.conf" in message
    assert "/etc/heat/heat.conf" in message and "OS_HEAT_CONFIG_FILES" in message


def test_missing_config_file_from_environment(clean_env, tmp_path):
    clean_env["OS_HEAT_CONFIG_FILES"] = str(tmp_path / "absent.conf")
    _, message = boot("cfn", clean_env)
    assert f"config file(s) not found: {tmp_path}/absent.conf (from environment)" in message


def test_unknown_flavor_names_the_flavors_that_exist(clean_env, conf):
    conf.write_text(conf.read_text().replace("flavor = noauth", "flavor = noauht"))
    _, message = boot("cfn", clean_env, ["server", "--config-file", str(conf)])
    assert "flavor 'noauht'" in message
    assert "flavors there: default, standalone, noauth" in message
    assert "[composite:api-cfn]" in message


def test_keystone_flavor_without_keystone_names_the_missing_option(clean_env, conf):
    conf.write_text(conf.read_text().replace("flavor = noauth", "flavor = default"))
    clean_env["OS_HEAT_CONFIG_FILES"] = str(conf)
    _, message = boot("api", clean_env)
    assert "[keystone_authtoken]" in message and "www_authenticate_uri" in message
    assert "flavor = noauth" in message


def test_missing_paste_file_says_where_it_looked(clean_env, conf):
    conf.write_text(conf.read_text().replace(
        "[paste_deploy]", f"[paste_deploy]\napi_paste_config = {conf.parent}/nope.ini"))
    _, message = boot("api", clean_env, ["server", f"--config-file={conf}"])
    assert f"api_paste_config = {conf.parent}/nope.ini: file not found" in message
    assert f"looked in {conf.parent}" in message


def test_heat_not_installed_names_the_package_to_install(clean_env, conf):
    clean_env["OS_HEAT_CONFIG_FILES"] = str(conf)
    _, message = boot("api", clean_env, prelude="sys.modules['heat'] = None")
    assert "OpenStack Heat is not installed" in message
    assert "pip install 'heat_wsgi[heat]'" in message


def test_unparseable_heat_conf_names_file_and_line(clean_env, conf):
    conf.write_text(conf.read_text() + "\n[broken\n")
    clean_env["OS_HEAT_CONFIG_FILES"] = str(conf)
    _, message = boot("api", clean_env)
    assert f"at {conf}:" in message and "bad configuration" in message


def test_bad_transport_url_names_the_option_and_driver(clean_env, conf):
    conf.write_text(conf.read_text().replace("transport_url = rabbit://",
                                             "transport_url = kafak://"))
    clean_env["OS_HEAT_CONFIG_FILES"] = str(conf)
    _, message = boot("api", clean_env)
    assert "[DEFAULT] transport_url" in message and "kafak" in message


def test_cloudwatch_without_its_tables_says_so_once(clean_env, conf):
    clean_env["OS_HEAT_CONFIG_FILES"] = str(conf)
    status, message = boot("cloudwatch", clean_env)
    assert status == 500
    assert "heat-wsgi cloudwatch db-sync" in message
    assert message.count("cannot start") == 1, message
