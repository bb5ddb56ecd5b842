"""Boot Heat once per process and build one API service's WSGI application.

This does what Heat's own ``init_application()`` does (logging, config
defaults, messaging, profiler, Paste Deploy), with three differences that
matter under a real web server:

* the config files come from argv, ``OS_HEAT_CONFIG_FILES`` /
  ``OS_HEAT_CONFIG_DIR`` or the standard search, and the host server's own
  argv never reaches oslo.config (see :mod:`heat_wsgi.config_args`);
* every way of getting the configuration wrong ends in one
  :class:`~heat_wsgi.errors.BootError` that says what was looked for and
  what was found, instead of a traceback on every request;
* under uwsgi the app is built in the master and each forked worker resets
  its connections (:mod:`heat_wsgi.postfork`).
"""

from __future__ import annotations

import configparser
import gc
import logging as std_logging
import os
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from heat_wsgi import config_args, deferred_db, healthcheck, postfork
from heat_wsgi.errors import BootError, HeatWsgiError
from heat_wsgi.services import SERVICES, by_program

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

PROGRAMS = tuple(info.program for info in SERVICES.values())
SHIPPED_PASTE_CONFIG = Path(__file__).resolve().parent / "data" / "api-paste.ini"
INSTALL_HINT = "pip install 'heat_wsgi[heat]'"
# Filters that ask Keystone to validate every request; a flavor that uses
# one without [keystone_authtoken] settings fails on every request instead.
_KEYSTONE_FILTERS = frozenset({"authtoken"})
_KEYSTONE_LOCATION_OPTS = ("www_authenticate_uri", "auth_uri", "auth_url")

LOG = std_logging.getLogger(__name__)

_lock = threading.Lock()
_apps: dict[str, WSGIApp] = {}


def entrypoint(prog: str) -> WSGIApp:
    """Build ``prog``'s application for a WSGI module's ``application``.

    On a :class:`BootError` the message is written once to stderr. Under
    uwsgi the process then exits (with ``need-app`` the master stops, which
    is what a deployment tool wants to see); under other servers a stand-in
    app answers 500 without repeating the traceback.
    """
    try:
        return load_application(prog)
    except BootError as exc:
        print(str(exc), file=sys.stderr, flush=True)
        if postfork.running_under_uwsgi():
            raise SystemExit(str(exc)) from None
        return _failed_app(prog)


def load_application(prog: str, argv: Sequence[str] | None = None,
                     environ: Mapping[str, str] | None = None) -> WSGIApp:
    """Boot Heat for ``prog`` and return its app; later calls in the same
    process return the same app."""
    if by_program(prog) is None:
        raise BootError(prog, f"unknown service; expected one of {', '.join(PROGRAMS)}")
    with _lock:
        if prog not in _apps:
            with _collector_paused():
                app = _boot(prog, sys.argv if argv is None else argv,
                            os.environ if environ is None else environ)
                if postfork.preloaded_by_uwsgi_master():
                    # Objects that exist before the fork are shared
                    # copy-on-write; a collection in a worker would write
                    # to every one of them (gc links and refcounts) and
                    # dirty, i.e. duplicate, those pages in each worker.
                    # Frozen objects are never examined again.
                    gc.freeze()
            _apps[prog] = app
        return _apps[prog]


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Keep the cyclic collector off while Heat is imported and built.

    Booting creates ~130,000 long-lived objects; with the collector on,
    each few hundred allocations trigger a pass over the young ones and
    every tenth over more, which is about a sixth of the boot's CPU for
    nothing (little of it is garbage). It also keeps the freed cycles from
    leaving holes in the heap pages a preloading master shares with its
    workers, which the workers would later fill, and so copy.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _failed_app(prog: str) -> WSGIApp:
    body = f"{prog} failed to start; the reason is in the server's error log\n".encode()

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        start_response("500 Internal Server Error",
                       [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    return app


# eventlet's green DNS resolver imports dnspython (~230 modules, a quarter
# of the API's import time, and their memory in every lazy worker). Heat's
# imports reach eventlet only through oslo.messaging's server side and
# oslo.service, which the API never runs; nothing is monkey-patched in a
# WSGI server, so name lookups go through the stdlib resolver either way.
_NO_GREENDNS = "EVENTLET_NO_GREENDNS"


def _import_heat(prog: str) -> Any:
    # Only when we are the first to import eventlet (it reads the variable
    # once, at import), and only for the import: the host server's
    # environment and its children's stay as they were.
    skip_greendns = "eventlet" not in sys.modules and _NO_GREENDNS not in os.environ
    if skip_greendns:
        os.environ[_NO_GREENDNS] = "yes"
    # The API reaches the database only through heat-engine: keep SQLAlchemy
    # out until something here does use it (see heat_wsgi.deferred_db).
    deferred_db.install()
    try:
        import oslo_i18n
        from heat import version
        from heat.common import config, messaging, profiler, wsgi
        from oslo_config import cfg
        from oslo_log import log
    except ModuleNotFoundError as exc:
        missing = exc.name or str(exc)
        raise BootError(prog, f"cannot import {missing!r} in {sys.executable} "
                              f"(prefix {sys.prefix}): OpenStack Heat is not installed "
                              f"there; {INSTALL_HINT}") from None
    except ImportError as exc:
        # Found but not loadable: typically a C extension of another Python
        # build, e.g. Debian's mod_wsgi given python-home= a venv whose
        # pyvenv.cfg points at a different 3.11 (measured: "undefined symbol:
        # _PyModule_Add" for _ssl).
        raise BootError(prog, f"cannot load {exc.name or 'a module'!r} in {sys.executable} "
                              f"(prefix {sys.prefix}, Python {sys.version.split()[0]}): "
                              f"{exc}; the venv must be made by the same Python build "
                              "as the server that embeds it") from None
    finally:
        if skip_greendns:
            os.environ.pop(_NO_GREENDNS, None)
    return oslo_i18n, version, config, messaging, profiler, wsgi, cfg, log


def _whoami() -> str:
    """``name (uid N, gid M)`` of this process, for permission errors."""
    import pwd
    uid, gid = os.getuid(), os.getgid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = "?"
    return f"user {name} (uid {uid}, gid {gid})"


def _boot(prog: str, argv: Sequence[str], environ: Mapping[str, str]) -> WSGIApp:
    oslo_i18n, version, config, messaging, profiler, wsgi, cfg, log = _import_heat(prog)
    conf = cfg.CONF
    chosen = config_args.choose(argv, environ)

    oslo_i18n.enable_lazy()
    # Heat's option registrations are global; reset so a second boot in the
    # same process (tests, a reloaded app) starts from a clean slate.
    conf.reset()
    log.register_options(conf)
    try:
        conf(args=list(chosen.args), project="heat", prog=prog,
             version=version.version_info.version_string())
    except cfg.ConfigFilesNotFoundError as exc:
        raise BootError(prog, f"config file(s) not found: {', '.join(exc.config_files)} "
                              f"(from {chosen.origin})") from None
    except cfg.ConfigDirNotFoundError as exc:
        raise BootError(prog, f"config directory not found: {exc.config_dir} "
                              f"(from {chosen.origin})") from None
    except cfg.ConfigFilesPermissionDeniedError as exc:
        # oslo.config says only "Failed to open": name the user who cannot read.
        raise BootError(prog, f"config file(s) not readable by {_whoami()}: "
                              f"{', '.join(exc.config_files)} (from {chosen.origin}; "
                              "see doc/users-and-directories.rst)") from None
    except (cfg.ConfigFileParseError, cfg.ConfigFileValueError, cfg.Error) as exc:
        raise BootError(prog, f"bad configuration: {exc}") from None
    if not conf.config_file and not conf.config_dir:
        looked = ", ".join(config_args.default_search_paths("heat", prog, environ))
        raise BootError(prog, "no heat.conf found. Looked for: " + looked +
                        f". Point at one with {config_args.CONFIG_FILES_ENV}=/path/heat.conf,"
                        " uwsgi 'pyargv = --config-file /path/heat.conf', or argv "
                        "--config-file")

    log.setup(conf, prog)
    info = by_program(prog)
    if info is not None and info.oslo_log_defaults:   # as Heat's own heat-api-cfn does
        log.set_defaults()
    try:
        config.set_config_defaults()
        messaging.setup()
    except cfg.Error as exc:
        raise BootError(prog, f"bad configuration: {exc}") from None
    except Exception as exc:  # oslo.messaging raises its own types for a bad URL
        raise BootError(prog, f"[DEFAULT] transport_url: {exc}") from None
    profiler.setup(prog, conf.host)

    paste_file = _paste_config_file(prog, conf, cfg)
    app_name, flavor = _check_flavor(prog, paste_file, conf)
    try:
        app: WSGIApp = wsgi.paste_deploy_app(str(paste_file), app_name, conf)
    except ImportError as exc:
        raise BootError(prog, f"{paste_file}: a filter or app of flavor {flavor!r} needs "
                              f"module {exc.name or exc!s}, which is not installed; "
                              f"{INSTALL_HINT}") from None
    except LookupError as exc:
        raise BootError(prog, f"{paste_file}: cannot load {app_name!r}: {exc}") from None
    except cfg.RequiredOptError as exc:
        raise BootError(prog, f"missing option: {exc}") from None
    except cfg.Error as exc:
        raise BootError(prog, f"bad configuration: {exc}") from None
    except BootError:
        raise   # says which service already (the CloudWatch app's own checks)
    except HeatWsgiError as exc:
        raise BootError(prog, str(exc)) from None

    if conf.debug:
        conf.log_opt_values(std_logging.getLogger(prog), std_logging.DEBUG)
    LOG.info("heat_wsgi: %s built from %s (flavor %s), config from %s: %s",
             prog, paste_file, flavor, chosen.origin,
             ", ".join(conf.config_file) or "-")

    postfork.register("messaging", postfork.reset_messaging_transports)
    postfork.install()
    return healthcheck.wrap(app)


def _paste_config_file(prog: str, conf: Any, cfg: Any) -> Path:
    """``[paste_deploy] api_paste_config`` as Heat resolves it; when the
    option is left at its default and no file of that name is next to the
    config, heat_wsgi's own copy (which has the noauth flavors) is used."""
    wanted = conf.paste_deploy.api_paste_config
    found = conf.find_file(wanted)
    if found:
        return Path(found).resolve()
    location = conf.get_location("api_paste_config", "paste_deploy")
    if location is None or location.location == cfg.Locations.opt_default:
        return SHIPPED_PASTE_CONFIG
    where = sorted({os.path.dirname(os.path.abspath(f)) for f in conf.config_file}
                   | set(conf.config_dir or ()))
    raise BootError(prog, f"[paste_deploy] api_paste_config = {wanted}: file not found "
                          f"(looked in {', '.join(where) or 'the config search path'})")


def _check_flavor(prog: str, paste_file: Path, conf: Any) -> tuple[str, str]:
    """Decide which paste section to load and check that the flavor asked
    for exists, so a typo is reported with the choices instead of a
    KeyError from deep inside Paste."""
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    try:
        with open(paste_file, encoding="utf-8") as handle:
            parser.read_file(handle)
    except (OSError, configparser.Error) as exc:
        raise BootError(prog, f"cannot read paste config {paste_file}: {exc}") from None

    flavor = conf.paste_deploy.flavor or "default"
    sections = {name.partition(":")[2]: name for name in parser.sections()}
    if f"{prog}-{flavor}" in sections:  # an old-style, per-flavor pipeline
        return f"{prog}-{flavor}", flavor
    if prog not in sections:
        raise BootError(prog, f"{paste_file} has no [composite:{prog}] section "
                              f"(it has: {', '.join(parser.sections())})")

    root = sections[prog]
    target = parser.get(root, "/", fallback=None)
    selector = sections.get(target.strip()) if target else None
    if selector is None or "heat.api:pipeline_factory" not in \
            parser.get(selector, "paste.composite_factory", fallback=""):
        return prog, flavor  # not a flavor-keyed composite: nothing to check

    flavors = [key for key in parser.options(selector)
               if not key.startswith("paste.") and key != "use"]
    if flavor not in flavors:
        raise BootError(prog, f"flavor {flavor!r} ([paste_deploy] flavor) is not defined "
                              f"in {paste_file} [{selector}]; flavors there: "
                              f"{', '.join(flavors)}")
    pipeline = parser.get(selector, flavor).split()
    if _KEYSTONE_FILTERS & set(pipeline) and not _keystone_configured(conf):
        raise BootError(prog, f"flavor {flavor!r} validates tokens with Keystone, but "
                              f"[keystone_authtoken] sets none of "
                              f"{', '.join(_KEYSTONE_LOCATION_OPTS)} in "
                              f"{', '.join(conf.config_file)}; set "
                              "[keystone_authtoken] www_authenticate_uri and auth_url, "
                              "or use flavor = noauth for a keystone-less deployment")
    return prog, flavor


def _keystone_configured(conf: Any) -> bool:
    """Whether any loaded config file sets where Keystone is. Read from the
    parsed files because keystonemiddleware registers its options only when
    the filter is built, which is too late to give a clear message."""
    from oslo_config import cfg

    files = list(conf.config_file)
    for directory in conf.config_dir or ():
        files += sorted(str(p) for p in Path(directory).glob("*.conf"))
    for path in files:
        sections: dict[str, dict[str, list[str]]] = {}
        try:
            cfg.ConfigParser(path, sections).parse()
        except Exception:  # noqa: BLE001 - oslo already parsed it successfully
            continue
        values = sections.get("keystone_authtoken", {})
        if any(values.get(opt) for opt in _KEYSTONE_LOCATION_OPTS):
            return True
    return False
