"""What ``heat-wsgi up --keystone`` changes: where Keystone runs, its accounts, Heat's settings.

Pure: :func:`keystone_settings` is the list of heat.conf options that turn
the keystone-less local run into a Keystone-backed one, the way Heat
documents a deployment with an identity service: the real Keystone client,
trusts for deferred operations (a scaling signal runs under the stack
owner's trust), a stack-user domain, keystonemiddleware's ``authtoken`` for
heat-api, and the ``default`` paste flavors, so that the CFN and CloudWatch
APIs check EC2 signatures with Keystone too. :mod:`heat_wsgi.cluster` starts
Keystone (:mod:`heat_wsgi.runtime.keystone`) and makes the accounts.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["KeystoneAccounts", "KEYSTONE_PORT", "REAL_KEYSTONE_BACKEND", "keystone_settings",
           "client_help"]

KEYSTONE_PORT = 5000
REAL_KEYSTONE_BACKEND = "heat.engine.clients.os.keystone.heat_keystoneclient.KsClientWrapper"


@dataclass(frozen=True, slots=True, kw_only=True)
class KeystoneAccounts:
    """Where the local Keystone listens and the identities ``up`` makes in it.

    The passwords are fixed and printed: the run is on loopback only, a
    throwaway for trying things out (as the noauth run is, which has none).
    """

    address: str = "127.0.0.1"
    port: int = KEYSTONE_PORT
    region: str = "RegionOne"
    admin_password: str = "local-admin"
    demo_user: str = "demo"
    demo_password: str = "local-demo"
    demo_project: str = "demo"
    service_project: str = "service"
    heat_user: str = "heat"
    heat_password: str = "local-heat"
    stack_domain: str = "heat"
    domain_admin: str = "heat_domain_admin"
    domain_admin_password: str = "local-domain"

    @property
    def url(self) -> str:
        """The identity v3 endpoint (``auth_url``)."""
        return f"http://{self.address}:{self.port}/v3"

    @property
    def root(self) -> str:
        """Keystone's root, which Heat's ec2authtoken appends ``/v3/ec2tokens`` to."""
        return f"http://{self.address}:{self.port}"


def _service_user(accounts: KeystoneAccounts, section: str,
                  project: bool) -> list[tuple[str, str, str]]:
    options = [(section, "auth_type", "password"), (section, "auth_url", accounts.url),
               (section, "username", accounts.heat_user),
               (section, "password", accounts.heat_password),
               (section, "user_domain_id", "default")]
    if project:
        options += [(section, "project_name", accounts.service_project),
                    (section, "project_domain_id", "default")]
    return options


def keystone_settings(accounts: KeystoneAccounts) -> tuple[tuple[str, str, str], ...]:
    """The ``(section, key, value)`` options every heat.conf gets with Keystone.

    They replace :data:`heat_wsgi.local.localize.KEYSTONELESS`. Why
    ``trusts``: ``deferred_auth_method = password`` cannot work against
    Keystone v3, since Heat stores no user domain with the password and v3
    refuses a user name without one.
    """
    return (
        ("DEFAULT", "keystone_backend", REAL_KEYSTONE_BACKEND),
        ("DEFAULT", "deferred_auth_method", "trusts"),
        ("DEFAULT", "stack_user_domain_name", accounts.stack_domain),
        ("DEFAULT", "stack_domain_admin", accounts.domain_admin),
        ("DEFAULT", "stack_domain_admin_password", accounts.domain_admin_password),
        ("DEFAULT", "region_name_for_services", accounts.region),
        # heat-api: cors .. authurl authtoken context; CFN and CloudWatch:
        # ec2authtoken authtoken context (heat_wsgi's api-paste.ini).
        ("paste_deploy", "flavor", "default"),
        # The demo user holds "member" on its project, which the legacy
        # defaults accept for everything a stack owner does.
        ("oslo_policy", "enforce_new_defaults", "False"),
        ("oslo_policy", "enforce_scope", "False"),
        ("clients_keystone", "auth_uri", accounts.url),
        ("keystone_authtoken", "www_authenticate_uri", accounts.url),
        *_service_user(accounts, "keystone_authtoken", project=True),
        *_service_user(accounts, "trustee", project=False),
        *_service_user(accounts, "ec2authtoken", project=True),
        ("ec2authtoken", "endpoint_override", accounts.root),
    )


CLIENT_HELP = """\
Keystone: {url} (region {region}); users admin/{admin_password} (project admin) and
{demo_user}/{demo_password} (project {demo_project}), both in domain Default.
  a token:
    openstack --os-auth-url {url} --os-identity-api-version 3 \\
      --os-username {demo_user} --os-password {demo_password} --os-project-name {demo_project} \\
      --os-user-domain-id default --os-project-domain-id default token issue
  the openstack client (python-openstackclient + python-heatclient), Heat from the catalog:
    export OS_AUTH_URL={url} OS_IDENTITY_API_VERSION=3 OS_REGION_NAME={region}
    export OS_USERNAME={demo_user} OS_PASSWORD={demo_password} OS_PROJECT_NAME={demo_project}
    export OS_USER_DOMAIN_ID=default OS_PROJECT_DOMAIN_ID=default
    openstack stack list
  CFN and CloudWatch (boto3/botocore) sign with an EC2 credential of that user:
    openstack ec2 credentials create"""


def client_help(accounts: KeystoneAccounts) -> str:
    """What ``up --keystone`` prints: how to get a token and point the openstack CLI at it."""
    return CLIENT_HELP.format(
        url=accounts.url, region=accounts.region, admin_password=accounts.admin_password,
        demo_user=accounts.demo_user, demo_password=accounts.demo_password,
        demo_project=accounts.demo_project)
