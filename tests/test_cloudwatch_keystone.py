"""heat-api-cloudwatch's keystone flavor (``default``) against a real Keystone.

The pipeline is ``ec2authtoken authtoken context``: Heat's ec2authtoken
sends the request's AWS signature to Keystone's ``/v3/ec2tokens``, which
checks it with the secret of an EC2 credential it stores and answers with a
token; keystonemiddleware's authtoken then validates that token. Here the
credential is made in Keystone for its bootstrap admin, and botocore's own
CloudWatch client (query protocol) signs with it, SigV4 in the
``Authorization`` header, as any AWS SDK would.

Everything runs for real: the session's Keystone under uwsgi and its MariaDB
(``cw_keystone``, tests/cwkeystone.py, shared with
tests/test_cloudwatch_autoscaling.py), which holds this module's own Heat
database too, and heat-api-cloudwatch under uwsgi on 127.0.0.27.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

import cwkeystone
from conftest import VENV, write_heat_conf
from cwkeystone import KeystoneDeployment, service_user_options
from heat_wsgi.cw.client import query_client
from heat_wsgi.runtime import uwsgi
from test_cloudwatch_real import db_sync, write_uwsgi_ini

pytestmark = pytest.mark.real

ADDRESS = "127.0.0.27"
KEYSTONE_URL = cwkeystone.URL
CW_PORT = 8003


@dataclass
class Deployment:
    state: Path
    url: str
    access: str
    secret: str

    def client(self, access: str | None = None, secret: str | None = None) -> Any:
        return query_client(self.url, self.state / "botocore",
                            access_key=access or self.access, secret_key=secret or self.secret)


def _ec2_credential(keystone: KeystoneDeployment) -> tuple[str, str]:
    """An EC2 credential of the admin in its project: (access, secret). Heat's
    middlewares log in as the service user cw_keystone made (``service`` role,
    which Keystone's default policy lets validate other users' tokens, as
    authtoken does)."""
    from keystoneclient.v3 import client as ks_client

    sess = keystone.admin_session()
    credential = ks_client.Client(session=sess).ec2.create(sess.get_user_id(),
                                                           sess.get_project_id())
    return credential.access, credential.secret


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory,
               cw_keystone: KeystoneDeployment) -> Iterator[Deployment]:
    state = tmp_path_factory.mktemp("cw-keystone")
    (state / "logs").mkdir()
    access, secret = _ec2_credential(cw_keystone)
    # ec2authtoken appends /v3/ec2tokens to the endpoint it finds, so it
    # gets Keystone's root, not the catalog's .../v3.
    extra = (f"\n[clients_keystone]\nauth_uri = {KEYSTONE_URL}\n"
             f"\n[keystone_authtoken]\nwww_authenticate_uri = {KEYSTONE_URL}\n"
             f"{service_user_options()}"
             f"\n[ec2authtoken]\n{service_user_options()}"
             f"endpoint_override = {cwkeystone.ROOT_URL}\n"
             "\n[heat_wsgi_cloudwatch]\nevaluation_interval = 0\n")
    # No RabbitMQ: the CloudWatch API never calls the engine.
    conf = write_heat_conf(state / "etc" / "heat.conf", flavor="default",
                           transport_url="rabbit://guest:guest@127.0.0.29:5672/",
                           database_url=cw_keystone.database("heat_cw_keystone"),
                           host="cw-keystone", extra=extra)
    db_sync(conf)
    ini = write_uwsgi_ini(state, "cw-keystone", ADDRESS, CW_PORT, conf)
    service = uwsgi.start_uwsgi(VENV, ini, state, "cw-keystone")
    try:
        yield Deployment(state, f"http://{ADDRESS}:{CW_PORT}", access, secret)
    finally:
        service.stop()


def _put(client: Any, ns: str) -> None:
    client.put_metric_data(Namespace=ns, MetricData=[
        {"MetricName": "Load", "Value": 42.0, "Unit": "Percent"}])


def test_a_request_signed_with_a_keystone_ec2_credential_is_served(deployment):
    ns = "Keystone/" + uuid.uuid4().hex[:8]
    client = deployment.client()
    _put(client, ns)
    assert [m["MetricName"] for m in client.list_metrics(Namespace=ns)["Metrics"]] == ["Load"]


def test_a_wrong_secret_is_refused_in_aws_form_and_writes_nothing(deployment):
    ns = "Keystone/" + uuid.uuid4().hex[:8]
    with pytest.raises(ClientError) as refused:
        _put(deployment.client(secret="not-" + deployment.secret), ns)
    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403, error
    assert error["Error"]["Code"] == "AccessDenied", error
    assert deployment.client().list_metrics(Namespace=ns)["Metrics"] == []


# Keystone answers 404 for an unknown EC2 access key, which Heat's ec2authtoken
# does not handle; cwfaultwrap turns it into the error AWS gives.
def test_an_unknown_access_key_is_refused(deployment):
    with pytest.raises(ClientError) as refused:
        deployment.client(access=uuid.uuid4().hex).list_metrics()
    error = refused.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 403, error
    assert error["Error"]["Code"] == "InvalidClientTokenId", error
