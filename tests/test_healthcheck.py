"""The /healthcheck fast path answers exactly as oslo.middleware would."""

from pathlib import Path

import pytest
import webob
from oslo_config import cfg
from oslo_middleware import healthcheck as oslo_healthcheck

from heat_wsgi import healthcheck


def _urlmap_with(hc_app):
    class UrlMap:
        applications = [((None, "/healthcheck"), hc_app), ((None, ""), _never)]

        def __call__(self, environ, start_response):
            return hc_app(environ, start_response)
    return UrlMap()


def _never(environ, start_response):  # pragma: no cover - must not be reached
    raise AssertionError("the API must not see health checks")


def _oslo_app(**local_conf):
    return oslo_healthcheck.Healthcheck.app_factory({}, **local_conf)


def _get(app, method="GET", accept=None):
    req = webob.Request.blank("/healthcheck", method=method)
    if accept:
        req.headers["Accept"] = accept
    return req.get_response(app)


@pytest.fixture(autouse=True)
def fresh_conf():
    cfg.CONF.reset()
    yield
    cfg.CONF.reset()


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("disabled", [False, True])
def test_disable_by_file_matches_oslo(tmp_path: Path, method, disabled):
    flag = tmp_path / "drain"
    if disabled:
        flag.write_text("")
    conf = {"backends": "disable_by_file", "disable_by_file_path": str(flag)}
    oslo = _oslo_app(**conf)
    fast = healthcheck.wrap(_urlmap_with(oslo))
    assert isinstance(fast, healthcheck.FastHealthcheck)
    want, got = _get(oslo, method), _get(fast, method)
    assert (got.status_int, got.body) == (want.status_int, want.body)
    assert got.status_int == (503 if disabled else (204 if method == "HEAD" else 200))


def test_no_backend_matches_oslo_empty_body():
    oslo = _oslo_app()
    fast = healthcheck.wrap(_urlmap_with(oslo))
    want, got = _get(oslo), _get(fast)
    assert (got.status_int, got.body) == (want.status_int, want.body) == (200, b"")


def test_drain_flag_takes_effect_without_restart(tmp_path: Path):
    flag = tmp_path / "drain"
    fast = healthcheck.wrap(_urlmap_with(_oslo_app(
        backends="disable_by_file", disable_by_file_path=str(flag))))
    assert _get(fast).status_int == 200
    flag.write_text("")
    assert _get(fast).status_int == 503
    flag.unlink()
    assert _get(fast).status_int == 200


def test_json_requests_go_to_oslo():
    calls = []

    def oslo_like(environ, start_response):
        calls.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b"{}"]
    settings = healthcheck.HealthSettings(disable_by_file_path=None, has_plugin=False)
    fast = healthcheck.FastHealthcheck(oslo_like, settings)
    _get(fast, accept="application/json")
    assert calls == ["/healthcheck"]


def test_configurations_needing_oslo_are_not_short_circuited():
    urlmap = _urlmap_with(_oslo_app(detailed="True"))
    # Left exactly as it was: every /healthcheck still reaches oslo's app.
    assert healthcheck.wrap(urlmap) is urlmap


def test_other_paths_pass_through():
    seen = []

    def api(environ, start_response):
        seen.append(environ["PATH_INFO"])
        start_response("300 Multiple Choices", [])
        return [b""]
    fast = healthcheck.FastHealthcheck(api, healthcheck.HealthSettings(None, False))
    assert webob.Request.blank("/").get_response(fast).status_int == 300
    assert webob.Request.blank("/healthcheck/extra").get_response(fast).status_int == 300
    assert seen == ["/", "/healthcheck/extra"]
