"""``site.yml``: lay down the rendered files, then start everything in order, idempotently.

Plays, in order: every host (packages when asked, the service user, the
directories, the files); the database (MariaDB, then Heat's database and
account); the broker (RabbitMQ, then Heat's accounts); Heat's schema, once;
the engines; the APIs (then each instance's ``/healthcheck``); HAProxy
(its config validated before it is installed, reloaded by a handler).
A unit is restarted only when a file it depends on changed, so a second
run reports no change.
"""

from __future__ import annotations

from typing import Any

from heat_wsgi.render.ansible.yamlout import Jinja

__all__ = ["site_playbook", "unit_task", "wait_healthchecks"]

Task = dict[str, Any]

#: started, or the unit's on_change (restarted / reloaded) when one of its files changed.
UNIT_STATE = Jinja(
    "{{ item.on_change if (heat_wsgi_restart | bool and item.files | "
    "intersect(heat_wsgi_changed | default([])) | length > 0) else 'started' }}")


def _units(stage: str) -> Jinja:
    return Jinja(f"{{{{ heat_wsgi_units | selectattr('stage', 'equalto', '{stage}') | list }}}}")


def unit_task(name: str, stage: str) -> Task:
    """Start (or restart when its files changed) each unit of one stage."""
    return {
        "name": name,
        "ansible.builtin.systemd_service": {
            "name": Jinja("{{ item.name }}"), "state": UNIT_STATE, "enabled": True,
            "masked": False},
        "loop": _units(stage),
        "loop_control": {"label": Jinja("{{ item.name }}")},
    }


def wait_healthchecks(name: str, urls: str) -> Task:
    """GET each URL until it answers 200 (also in check mode: it changes nothing)."""
    return {
        "name": name,
        "ansible.builtin.uri": {"url": Jinja("{{ item }}"), "status_code": 200,
                                "validate_certs": False, "timeout": 5},
        "register": "heat_wsgi_health",
        "until": Jinja("heat_wsgi_health.status == 200"),
        "retries": 120,
        "delay": 1,
        "check_mode": False,
        "loop": Jinja(f"{{{{ {urls} | default([]) }}}}"),
    }


def _write(name: str, secret: bool, register: str) -> Task:
    """Write the files heat_wsgi_files found different, in one module run per host.

    The contents are read on the controller by the ``file`` lookup, whose
    results Ansible never templates; ``copy`` took three round trips per file.
    """
    select = "selectattr" if secret else "rejectattr"
    task: Task = {
        "name": name,
        "heat_wsgi_files": {
            "write": Jinja("{{ heat_wsgi_pending }}"),
            "contents": Jinja("{{ query('ansible.builtin.file', *heat_wsgi_sources, "
                              "rstrip=false) }}")},
        "vars": {
            # [group (owner, group, mode), path] of each file that differs.
            "heat_wsgi_pending": Jinja(
                f"{{{{ heat_wsgi_files | {select}('secret') | subelements('paths') | "
                "selectattr('1', 'in', heat_wsgi_differ.differ) | list }}"),
            # Where each lies in the rendered tree beside the playbook.
            "heat_wsgi_sources": Jinja(
                "{{ [playbook_dir ~ '/' ~ heat_wsgi_tree] | product(heat_wsgi_pending | "
                "map(attribute='1')) | map('join') | list }}")},
        "register": register,
        # Only what heat_wsgi_files found different: nothing to do (and no
        # round trip) when nothing changed, and a check run diffs exactly those.
        "when": Jinja("heat_wsgi_pending | length > 0"),
        "notify": "Reload systemd",
    }
    if secret:
        # A drift check names a changed secret file (the task before) but never
        # prints its content.
        task["diff"] = False
        task["no_log"] = True
    return task


def _prepare_play() -> dict[str, Any]:
    install = Jinja("heat_wsgi_install | bool")
    return {
        "name": "Lay down the files heat_wsgi rendered",
        "hosts": "all",
        "gather_facts": False,
        "tasks": [
            {"name": "Install the OS packages (only with heat_wsgi_install=true)",
             "ansible.builtin.apt": {"name": Jinja("{{ heat_wsgi_apt_packages }}"),
                                     "state": "present", "update_cache": True,
                                     "cache_valid_time": 3600},
             "when": install, "tags": ["install"]},
            {"name": "Create the service group",
             "ansible.builtin.group": {"name": Jinja("{{ heat_wsgi_group }}"), "system": True},
             "when": Jinja("heat_wsgi_group is defined")},
            {"name": "Create the service user",
             "ansible.builtin.user": {"name": Jinja("{{ heat_wsgi_user }}"),
                                      "group": Jinja("{{ heat_wsgi_group }}"), "system": True,
                                      "home": Jinja("{{ heat_wsgi_home }}"), "create_home": False,
                                      "shell": "/usr/sbin/nologin"},
             "when": Jinja("heat_wsgi_user is defined")},
            {"name": "Install the Heat virtualenv (only with heat_wsgi_install=true)",
             "ansible.builtin.pip": {"name": Jinja("{{ heat_wsgi_pip_packages }}"),
                                     "virtualenv": Jinja("{{ heat_wsgi_venv }}"),
                                     "virtualenv_command": "python3 -m venv",
                                     "extra_args": Jinja("{{ heat_wsgi_pip_extra_args }}")},
             "when": [install, Jinja("heat_wsgi_venv is defined")], "tags": ["install"]},
            # One module run: the directories (owner and mode included), then
            # which files differ.
            {"name": "Create the directories and find the files that differ",
             "heat_wsgi_files": {"files": Jinja("{{ heat_wsgi_files }}"),
                                 "directories": Jinja("{{ heat_wsgi_directories }}")},
             "register": "heat_wsgi_differ"},
            {"name": "Name the files that differ",
             "ansible.builtin.debug": {"msg": Jinja("{{ heat_wsgi_differ.differ }}")},
             "when": Jinja("heat_wsgi_differ.differ | length > 0")},
            _write("Copy the rendered files", False, "heat_wsgi_copied"),
            _write("Copy the rendered files that hold credentials", True,
                   "heat_wsgi_copied_secret"),
            {"name": "Remember which files changed",
             "ansible.builtin.set_fact": {"heat_wsgi_changed": Jinja(
                 "{{ (heat_wsgi_copied.written | default([])) + "
                 "(heat_wsgi_copied_secret.written | default([])) }}")}},
        ],
        "handlers": [
            {"name": "Reload systemd",
             "ansible.builtin.systemd_service": {"daemon_reload": True}},
        ],
    }


def _service_play(name: str, stage: str, server: str, var: str, timeout: int,
                  tasks: list[Task]) -> dict[str, Any]:
    """Start a shared service's unit, wait for its port, then ``tasks``."""
    return {
        "name": name, "hosts": stage, "gather_facts": False,
        "tasks": [
            unit_task(f"Start {server}", stage),
            {"name": f"Wait until {server} accepts connections",
             "ansible.builtin.wait_for": {"host": Jinja(f"{{{{ {var}.address }}}}"),
                                          "port": Jinja(f"{{{{ {var}.port }}}}"),
                                          "timeout": timeout}},
            *tasks,
        ],
    }


def _database_play() -> dict[str, Any]:
    db = "heat_wsgi_database"
    return _service_play(
        "Start MariaDB and create Heat's database", "database", "MariaDB", db, 120, [
            {"name": "Check that Heat's account works",
             "ansible.builtin.command": {"argv": [
                 "mariadb", Jinja(f"--defaults-file={{{{ {db}.check_conf }}}}"), "--batch",
                 "--skip-column-names", "--execute", "SELECT 1"]},
             "register": "heat_wsgi_db_check", "changed_when": False, "failed_when": False,
             "check_mode": False},
            {"name": "Create Heat's database and account",
             "ansible.builtin.command": {"argv": [
                 "mariadb", "--batch", "--execute", Jinja(f"source {{{{ {db}.sql }}}}")]},
             "when": Jinja("heat_wsgi_db_check.rc != 0"), "changed_when": True},
        ])


def _broker_play() -> dict[str, Any]:
    mq = "heat_wsgi_rabbitmq"
    return _service_play(
        "Start RabbitMQ and create Heat's accounts", "message_bus", "RabbitMQ", mq, 180, [
            {"name": "Create the virtual hosts",
             "community.rabbitmq.rabbitmq_vhost": {"name": Jinja("{{ item }}"),
                                                   "node": Jinja(f"{{{{ {mq}.node }}}}"),
                                                   "state": "present"},
             "loop": Jinja("{{ heat_wsgi_rabbitmq_accounts | map(attribute='vhost') | unique | "
                           "reject('equalto', '/') | list }}")},
            {"name": "Create Heat's accounts",
             "community.rabbitmq.rabbitmq_user": {
                 "user": Jinja("{{ item.user }}"), "password": Jinja("{{ item.password }}"),
                 "vhost": Jinja("{{ item.vhost }}"), "configure_priv": ".*", "read_priv": ".*",
                 "write_priv": ".*", "node": Jinja(f"{{{{ {mq}.node }}}}"),
                 "update_password": "always", "state": "present"},
             "loop": Jinja("{{ heat_wsgi_rabbitmq_accounts }}"),
             "loop_control": {"label": Jinja("{{ item.user }}")}, "no_log": True},
        ])


def _schema_play() -> dict[str, Any]:
    manage = [Jinja("{{ heat_wsgi_bin_dir }}/heat-manage"), "--config-file",
              Jinja("{{ heat_wsgi_heat_conf }}")]
    return {
        "name": "Create or upgrade Heat's database schema, once",
        "hosts": "heat",
        # run_once means the first host of the play; linear keeps it so.
        "strategy": "linear",
        "gather_facts": False,
        "tasks": [
            {"name": "Read the schema version",
             "ansible.builtin.command": {"argv": [*manage, "db_version"]},
             "register": "heat_wsgi_schema_before", "changed_when": False,
             "failed_when": False, "check_mode": False, "run_once": True},
            {"name": "Run heat-manage db_sync",
             "ansible.builtin.command": {"argv": [*manage, "db_sync"]},
             # The next task tells whether it changed anything.
             "changed_when": False, "run_once": True},
            {"name": "Report whether db_sync changed the schema",
             "ansible.builtin.command": {"argv": [*manage, "db_version"]},
             "register": "heat_wsgi_schema_after", "run_once": True,
             # The revision is the last line (Heat logs to stdout before it).
             "changed_when": Jinja("heat_wsgi_schema_after.stdout_lines[-1:] != "
                                   "heat_wsgi_schema_before.stdout_lines[-1:]")},
            {"name": "Create or upgrade the CloudWatch API's tables",
             "ansible.builtin.command": {"argv": [
                 Jinja("{{ heat_wsgi_bin_dir }}/heat-wsgi"), "cloudwatch", "db-sync",
                 "--config-file", Jinja("{{ heat_wsgi_heat_conf }}")]},
             "register": "heat_wsgi_cloudwatch_sync", "run_once": True,
             "when": Jinja("heat_wsgi_cloudwatch | bool"),
             "changed_when": Jinja("'created' in heat_wsgi_cloudwatch_sync.stdout")},
        ],
    }


def _api_play() -> dict[str, Any]:
    return {
        "name": "Start the API instances",
        "hosts": "api",
        "gather_facts": False,
        "tasks": [
            {"name": "Enable the Apache modules the sites need",
             "community.general.apache2_module": {"name": Jinja("{{ item }}"), "state": "present"},
             "loop": Jinja("{{ heat_wsgi_apache_modules | default([]) }}"),
             "notify": "Restart Apache"},
            {"name": "Enable the Apache sites",
             "ansible.builtin.command": {"argv": ["a2ensite", Jinja("{{ item }}")],
                                         "creates": Jinja("/etc/apache2/sites-enabled/{{ item }}.conf")},
             "loop": Jinja("{{ heat_wsgi_apache_sites | default([]) }}"),
             "notify": "Restart Apache"},
            unit_task("Start the API units", "api"),
            {"name": "Apply Apache changes before checking health",
             "ansible.builtin.meta": "flush_handlers"},
            wait_healthchecks("Wait until every API instance answers /healthcheck",
                              "heat_wsgi_healthchecks"),
        ],
        "handlers": [
            {"name": "Restart Apache",
             "ansible.builtin.systemd_service": {"name": "apache2", "state": "restarted"}},
        ],
    }


def _proxy_play() -> dict[str, Any]:
    cfg = "heat_wsgi_haproxy_config"
    return {
        "name": "Put HAProxy in front",
        "hosts": "proxy",
        "gather_facts": False,
        "tasks": [
            {"name": "Install haproxy.cfg (checked by haproxy -c first)",
             "ansible.builtin.copy": {
                 "src": Jinja(f"{{{{ playbook_dir }}}}/{{{{ heat_wsgi_tree }}}}/{{{{ {cfg}.src }}}}"),
                 "dest": Jinja(f"{{{{ {cfg}.dest }}}}"), "owner": Jinja(f"{{{{ {cfg}.owner }}}}"),
                 "group": Jinja(f"{{{{ {cfg}.group }}}}"), "mode": Jinja(f"{{{{ {cfg}.mode }}}}"),
                 "validate": "haproxy -c -f %s"},
             "notify": "Reload HAProxy"},
            {"name": "Start HAProxy",
             "ansible.builtin.systemd_service": {"name": "haproxy", "state": "started",
                                                 "enabled": True, "masked": False}},
            {"name": "Reload HAProxy now if its configuration changed",
             "ansible.builtin.meta": "flush_handlers"},
            wait_healthchecks("Wait until each listener answers /healthcheck through the proxy",
                              "heat_wsgi_proxy_urls"),
        ],
        "handlers": [
            # Debian's unit reloads the master-worker process with USR2: the
            # listening sockets stay open, connections are not dropped.
            {"name": "Reload HAProxy",
             "ansible.builtin.systemd_service": {"name": "haproxy", "state": "reloaded"}},
        ],
    }


def site_playbook() -> list[dict[str, Any]]:
    """Every play of site.yml, in order."""
    return [
        _prepare_play(), _database_play(), _broker_play(), _schema_play(),
        {"name": "Start the heat-engines", "hosts": "engine", "gather_facts": False,
         "tasks": [unit_task("Start the heat-engine units", "engine")]},
        _api_play(), _proxy_play(),
    ]
