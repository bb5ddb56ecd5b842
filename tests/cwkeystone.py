"""One real Keystone for the CloudWatch tests that need one.

``tests/test_cloudwatch_autoscaling.py`` and ``tests/test_cloudwatch_keystone.py``
each started a MariaDB and a Keystone of their own; setting up Keystone
(``keystone-manage db_sync``, ``fernet_setup``, ``credential_setup``,
``bootstrap``: four fresh Pythons importing Keystone, and the schema's
migrations) is the slow part of both modules. The session-scoped
``cw_keystone`` fixture below starts it once, on 127.0.0.24:5000 with its
MariaDB on 127.0.0.23:3306 (HACKING.md's cloudwatch range), and makes the
identities a Keystone-backed Heat is deployed with, which is what both
modules need:

* the ``service`` project and Heat's service user ``heat`` in it with the
  ``admin`` and ``service`` roles (``service`` lets keystonemiddleware
  validate users' tokens under Keystone's default policy; ``admin`` matches
  what installers grant; ec2authtoken and ``[trustee]`` log in as it too);
* the ``heat`` stack-user domain with its admin, and the ``heat_stack_user``
  role (Heat's documented layout).

Each module adds what is its own (an EC2 credential, its own database in the
MariaDB: :meth:`KeystoneDeployment.database`) and stops what it started.
The fixture is registered once, in conftest.py, so that both modules get the
same instance.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from heat_wsgi.runtime import mariadb
from heat_wsgi.runtime.service import Service

from realstack import keystone_on_mariadb

DB_ADDRESS = "127.0.0.23"
ADDRESS = "127.0.0.24"
PORT = 5000
URL = f"http://{ADDRESS}:{PORT}/v3"
ROOT_URL = f"http://{ADDRESS}:{PORT}"
ADMIN_PASSWORD = "cw-e2e-admin"
HEAT_USER, HEAT_PASSWORD = "heat", "cw-e2e-heat"
DOMAIN_ADMIN, DOMAIN_ADMIN_PASSWORD = "heat_domain_admin", "cw-e2e-domain"


@dataclass
class KeystoneDeployment:
    state: Path
    db: Service
    keystone: Service

    def admin_session(self) -> Any:
        """A keystoneauth session of Keystone's bootstrap admin in project admin."""
        from keystoneauth1 import session
        from keystoneauth1.identity import v3

        return session.Session(auth=v3.Password(
            auth_url=URL, username="admin", password=ADMIN_PASSWORD,
            user_domain_id="default", project_name="admin", project_domain_id="default"))

    def database(self, name: str) -> str:
        """A database of the caller's own in the MariaDB (user ``heat``); its URL."""
        mariadb.create_database(mariadb.socket_path(self.state), database=name, user="heat",
                                password="heat", service="mariadb", log=self.db.log)
        return f"mysql+pymysql://heat:heat@{DB_ADDRESS}:3306/{name}?charset=utf8mb4"


def service_user_options(project: bool = True) -> str:
    """The ini lines (auth plugin options) that log in as Heat's service user."""
    lines = (f"auth_type = password\nauth_url = {URL}\n"
             f"username = {HEAT_USER}\npassword = {HEAT_PASSWORD}\n"
             "user_domain_id = default\n")
    if project:
        lines += "project_name = service\nproject_domain_id = default\n"
    return lines


def _make_heat_identities(sess: Any) -> None:
    """Heat's service user and stack-user domain, as a deployer creates them."""
    from keystoneclient.v3 import client as ks_client

    ks = ks_client.Client(session=sess)

    def role(name: str) -> Any:
        found = ks.roles.list(name=name)
        return found[0] if found else ks.roles.create(name=name)

    service = ks.projects.create(name="service", domain="default")
    heat_user = ks.users.create(name=HEAT_USER, password=HEAT_PASSWORD, domain="default")
    for name in ("admin", "service"):
        ks.roles.grant(role(name), user=heat_user, project=service)
    domain = ks.domains.create(name="heat", description="Heat stack users")
    admin = ks.users.create(name=DOMAIN_ADMIN, password=DOMAIN_ADMIN_PASSWORD, domain=domain)
    ks.roles.grant(role("admin"), user=admin, domain=domain)
    role("heat_stack_user")


@pytest.fixture(scope="session")
def cw_keystone(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeystoneDeployment]:
    state = tmp_path_factory.mktemp("cw-keystone")
    with keystone_on_mariadb(state, db_address=DB_ADDRESS, address=ADDRESS, port=PORT,
                             admin_password=ADMIN_PASSWORD) as (services, db):
        deployment = KeystoneDeployment(state, db, services[-1])
        _make_heat_identities(deployment.admin_session())
        yield deployment
