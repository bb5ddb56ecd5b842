"""The WSGI application of the CloudWatch API and its paste factory."""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from heat_wsgi.cw import config, query, requests, xmlout
from heat_wsgi.cw.errors import CloudWatchError
from heat_wsgi.cw.notify import Notifier
from heat_wsgi.cw.schema import SchemaError, check
from heat_wsgi.cw.service import Service
from heat_wsgi.cw.store import Store, make_engine
from heat_wsgi.errors import BootError

LOG = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
CONTENT_TYPE = "text/xml; charset=UTF-8"
# Requests whose project cannot be told (no context middleware) share this one.
DEFAULT_PROJECT = "default"


def request_id(environ: dict[str, Any]) -> str:
    """oslo's request_id middleware's id when it ran (so logs and response
    agree), else a fresh one."""
    rid = environ.get("openstack.request_id")
    if not rid:
        rid = "req-" + str(uuid.uuid4())
        environ["openstack.request_id"] = rid
    return str(rid)


def project_of(environ: dict[str, Any]) -> str:
    """The project of heat's request context (set by the context filter from
    noauth or keystone auth); alarms and metrics are kept per project."""
    context = environ.get("webob.adhoc_attrs", {}).get("context")
    project = str(getattr(context, "project_id", None) or DEFAULT_PROJECT)
    # Keystone ids are 32 hex digits; noauth takes any X-Auth-Project. A
    # longer one is hashed to fit the 64-character column, consistently.
    if len(project) > 64:
        project = hashlib.sha256(project.encode("utf-8")).hexdigest()
    return project


def error_response(start_response: StartResponse, code: str, message: str, fault_type: str,
                   status: int, rid: str) -> list[bytes]:
    body = xmlout.error(code, message, fault_type, rid)
    start_response(f"{status} {_REASONS.get(status, 'Error')}",
                   [("Content-Type", CONTENT_TYPE), ("Content-Length", str(len(body))),
                    ("x-amzn-RequestId", rid)])
    return [body]


_REASONS = {400: "Bad Request", 404: "Not Found", 413: "Request Entity Too Large",
            500: "Internal Server Error", 503: "Service Unavailable", 403: "Forbidden",
            401: "Unauthorized"}


class CloudWatchApp:
    """Answers every path: AWS clients POST to ``/``, cfn-push-stats to ``/v1``."""

    def __init__(self, service: Service, evaluation_interval: int = 0) -> None:
        self.service = service
        self.evaluator = Evaluator(service, evaluation_interval)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        rid = request_id(environ)
        self.evaluator.ensure_running()
        try:
            tree = query.build_tree(query.read_params(environ))
            action, req = requests.parse(tree, self.service.clock())
            result = self.service.handle(project_of(environ), action, req)
        except CloudWatchError as exc:
            LOG.info("%s: %s", rid, exc)
            return error_response(start_response, exc.code, exc.message, exc.fault_type,
                                  exc.status, rid)
        except Exception:
            LOG.exception("%s: CloudWatch request failed", rid)
            return error_response(start_response, "InternalFailure",
                                  "The request processing has failed because of an unknown "
                                  "error; see the API log for " + rid, "Receiver", 500, rid)
        body = xmlout.response(action, result, rid)
        start_response("200 OK", [("Content-Type", CONTENT_TYPE),
                                  ("Content-Length", str(len(body))), ("x-amzn-RequestId", rid)])
        return [body]


class Evaluator:
    """A daemon thread per process re-evaluating every alarm periodically.

    Every API instance runs one; that is safe because a transition is a
    compare-and-swap, so instances racing on one alarm fire it once. It is
    started on the first request, in the process that serves it (never in
    a uwsgi master that forks workers later).
    """

    def __init__(self, service: Service, interval: int) -> None:
        self.service = service
        self.interval = interval
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def ensure_running(self) -> None:
        if self.interval <= 0:
            return
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._loop, name="cw-evaluator", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.service.evaluate_all()
            except Exception:  # keep evaluating after a DB hiccup
                LOG.exception("periodic alarm evaluation failed")


def build(connection: str, *, evaluation_interval: int = 0, action_timeout: float = 10.0,
          max_alarms: int = 5000) -> CloudWatchApp:
    """The app on a database URL, checking the tables are there."""
    store = Store(lambda: make_engine(connection))
    try:
        with store.engine.connect() as conn:
            check(conn)
    except SchemaError as exc:
        raise BootError("heat-api-cloudwatch", str(exc)) from None
    service = Service(store, Notifier(action_timeout), max_alarms=max_alarms)
    return CloudWatchApp(service, evaluation_interval)


def app_factory(global_conf: dict[str, str], **local_conf: str) -> CloudWatchApp:
    """Paste ``app_factory``: configuration comes from the global oslo
    ``CONF``, which heat_wsgi.boot has parsed by now."""
    from oslo_config import cfg
    conf = cfg.CONF
    config.register(conf)
    url = config.connection_url(conf)
    if not url:
        raise BootError("heat-api-cloudwatch",
                        "[database] connection (or [heat_wsgi_cloudwatch] connection): "
                        "must be set in heat.conf (got nothing)")
    group: Any = getattr(conf, config.GROUP)
    return build(url, evaluation_interval=group.evaluation_interval,
                 action_timeout=group.action_timeout, max_alarms=group.max_alarms)
