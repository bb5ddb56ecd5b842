"""Apache site files (one per instance) and the ``.wsgi`` scripts of mod_wsgi."""

from __future__ import annotations

from heat_wsgi.model import ApiInstance, Host, Topology
from heat_wsgi.quoting import apache_arg as a
from heat_wsgi.quoting import python_str
from heat_wsgi.derive.addresses import format_host
from heat_wsgi.derive.layout import InstanceLayout, instance_address
from heat_wsgi.render.common import header

__all__ = ["render_apache_site", "render_wsgi_script", "apache_modules"]

_MODULES = {
    "mod_wsgi": ("wsgi", "authz_core", "log_config"),
    "mod_proxy": ("proxy", "proxy_http", "env", "log_config"),
    "mod_proxy_uwsgi": ("proxy", "proxy_uwsgi", "log_config"),
}

_LOG_FORMAT = '%h %l %u %t "%r" %>s %b %D "%{X-Forwarded-For}i"'


def apache_modules(instance: ApiInstance) -> tuple[str, ...]:
    """The Apache modules (short names, as a2enmod takes them) a site needs."""
    return _MODULES.get(instance.mode, ())


# What a2enmod must be told per mode (authz_core and log_config are always on).
_ENABLE = {mode: " ".join(m for m in modules if m not in ("authz_core", "log_config"))
           for mode, modules in _MODULES.items()}


def _where(instance: ApiInstance, layout: InstanceLayout) -> list[str]:
    name = layout.apache_site.rsplit("/", 1)[-1]
    modules = _ENABLE.get(instance.mode, "")
    return [
        "#",
        f"# Debian/Ubuntu: copy to /etc/apache2/sites-available/{name}, enable it with",
        f"#   a2enmod {modules}; a2ensite {name.removesuffix('.conf')}",
        "#   (or symlink it into /etc/apache2/sites-enabled/), then reload apache2.",
        f"# Red Hat: copy to /etc/httpd/conf.d/{name} and reload httpd.",
        "#",
    ]


def render_apache_site(topology: Topology, instance: ApiInstance, host: Host,
                       layout: InstanceLayout) -> str:
    address = instance_address(instance, host)
    port = instance.effective_port
    # format_host: a host address may be given with its brackets already ("[::1]").
    listen = f"{format_host(address)}:{port}"
    log_dir = host.paths.log_dir.rstrip("/")
    name = instance.name
    lines = header("#", topology, f"Apache site for {instance.info.program} instance "
                   f"{name!r} ({instance.mode})")
    lines += _where(instance, layout)
    lines += [f"Listen {a(listen)}", f"<VirtualHost {a(listen)}>"]
    body: list[str] = []
    if instance.mode == "mod_wsgi":
        paths = host.paths
        # mod_wsgi splits its options at '=' and reads the value as an httpd
        # word: 'python-home="/a b"' works, '"python-home=/a b"' is refused.
        options = [f"processes={instance.processes}", f"threads={instance.threads}",
                   f"user={a(host.user)}", f"group={a(host.group)}", "display-name=%{GROUP}"]
        if paths.venv:
            options.append(f"python-home={a(paths.venv)}")
        if paths.python_path:
            options.append(f"python-path={a(paths.python_path)}")
        body += [
            f"WSGIDaemonProcess {a(name)} " + " ".join(options),
            f"WSGIProcessGroup {a(name)}",
            "WSGIApplicationGroup %{GLOBAL}",
            "WSGIPassAuthorization On",
            f"WSGIScriptAlias / {a(layout.wsgi_script)}",
            "AllowEncodedSlashes On",
            f"<Directory {a(paths.wsgi_dir)}>",
            "    Require all granted",
            "</Directory>",
        ]
    elif instance.mode == "mod_proxy":
        assert layout.http_socket is not None
        backend_address, backend_port = layout.http_socket
        body += [
            "KeepAlive Off",
            "SetEnv proxy-sendchunked 1",
            "ProxyPreserveHost On",
            f"ProxyPass / {a(f'http://{backend_address}:{backend_port}/')} retry=0",
        ]
    else:
        assert layout.socket is not None
        body += [
            "ProxyPreserveHost On",
            f"ProxyPass / {a(f'unix:{layout.socket}|uwsgi://{name}/')} retry=0",
        ]
    body += [
        f"ErrorLog {a(f'{log_dir}/{name}-apache-error.log')}",
        f"CustomLog {a(f'{log_dir}/{name}-apache-access.log')} {a(_LOG_FORMAT)}",
    ]
    lines += ["    " + line for line in body]
    lines.append("</VirtualHost>")
    return "\n".join(lines) + "\n"


def render_wsgi_script(topology: Topology, instance: ApiInstance, host: Host,
                       layout: InstanceLayout) -> str:
    """The script WSGIScriptAlias points at: name the config, import the app."""
    files = ";".join(layout.config_files)
    lines = header("#", topology, f"mod_wsgi script for {instance.info.program} "
                   f"instance {instance.name!r}")
    lines += [
        "import os",
        "",
        f"os.environ.setdefault(\"OS_HEAT_CONFIG_FILES\", {python_str(files)})",
        "",
        f"from {instance.info.module} import application  # noqa: E402,F401",
    ]
    return "\n".join(lines) + "\n"
