"""One quoting function per output format.

Every value that reaches a rendered file passes through exactly one of these
functions. Each returns the text to paste after the directive or key, quoted
only when needed, or raises :class:`UnsafeValue` when the value cannot be
written in that format without changing its meaning or adding a directive
(a newline, a control character, a construct the format would expand).

The rules, format by format:

``ini_value`` (heat.conf, read by oslo.config)
    oslo.config strips the value, removes one pair of matching outer quotes
    and expands ``$name``. So ``$`` becomes ``$$`` and a value with leading or
    trailing whitespace, or one that starts and ends with the same quote
    character, is wrapped in double quotes. oslo.config reads ``\\$`` as
    ``$``, and no quoting keeps a backslash before ``$``: such a value is
    refused (:func:`ini_unsafe_reason`, which validation reports too).
``uwsgi_value`` (uwsgi ini)
    uwsgi strips values and expands ``%x`` magic variables, ``$(VAR)`` and
    ``@(file)``; it has no quoting. Such values are refused.
``apache_arg`` (httpd configuration)
    Arguments are split on whitespace; a double-quoted argument may contain
    ``\\"``. ``${NAME}`` is expanded from defines, so it is refused.
``haproxy_word`` (haproxy.cfg)
    A word of safe characters is written bare; anything else is put in single
    quotes, inside which HAProxy interprets nothing.
``systemd_value`` / ``systemd_exec_arg`` (unit files)
    ``%`` introduces a specifier and becomes ``%%``. Command lines also expand
    ``$VAR`` and split on whitespace and ``;``, so arguments are escaped and
    double-quoted as needed.
``python_str`` (the ``.wsgi`` script)
    A Python string literal.
``yaml_str`` (Ansible inventory and playbooks)
    A double-quoted YAML scalar. Ansible renders every string it reads as a
    Jinja template, so a value holding ``{`` or ``%`` is tagged ``!unsafe``:
    Ansible then passes it on literally, never evaluated.
``sql_string`` / ``sql_identifier`` (MariaDB statements)
    A single-quoted literal (``'`` doubled, ``\\`` escaped as the default
    sql_mode reads it) and a backquoted name (backquote doubled).
``mysql_option`` (MariaDB option files, ``my.cnf``)
    A double-quoted value with ``\\`` and ``\\"`` escaped, so ``#`` and
    whitespace stay part of it.
``shell_env`` (files a POSIX shell sources, e.g. ``rabbitmq-env.conf``)
    A single-quoted shell word.
``tmpfiles_field`` (``tmpfiles.d`` lines)
    A whitespace-free field with ``%`` doubled (a specifier otherwise).
"""

from __future__ import annotations

import json
import re
import unicodedata

from heat_wsgi.errors import HeatWsgiError
from heat_wsgi.redact import mask_secrets

__all__ = [
    "UnsafeValue", "unsafe_reason", "ini_unsafe_reason", "ini_value", "ini_key", "uwsgi_value",
    "apache_arg", "haproxy_word", "systemd_value", "systemd_exec_arg",
    "python_str", "dot_string", "yaml_str", "yaml_key", "sql_string", "sql_identifier",
    "mysql_option", "shell_env", "tmpfiles_field", "NAME_PATTERN",
]

#: Names of instances, hosts and groups: they become file names, unit names,
#: HAProxy server names and Apache process-group names.
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,62}")


class UnsafeValue(HeatWsgiError, ValueError):
    """A value cannot be written safely in the named output format."""

    def __init__(self, fmt: str, value: object, reason: str) -> None:
        super().__init__(fmt, value, reason)
        self.fmt = fmt
        self.value = value
        self.reason = reason

    def __str__(self) -> str:
        return f"cannot write {mask_secrets(repr(self.value))} into {self.fmt}: {self.reason}"


def unsafe_reason(value: str) -> str | None:
    """Say why ``value`` can be written in no format at all, or ``None``.

    Control characters (including newlines, tabs excepted) and Unicode line
    or paragraph separators are refused everywhere: each of them could end
    the line in some reader and start a new directive. A lone surrogate
    (a YAML ``"\\udc80"``) cannot be encoded as UTF-8 at all.
    """
    if value.isprintable():      # fast path: no Cc, Zl or Zp can be in it
        return None
    for char in value:
        if char == "\t":
            continue
        category = unicodedata.category(char)
        if category in ("Cc", "Zl", "Zp"):
            return f"contains the control character {char!r}"
        if category == "Cs":
            return f"contains the lone surrogate {char!r}, which UTF-8 cannot encode"
    return None


#: A plain word: every function below writes it unchanged, as none quotes,
#: expands or refuses any of these characters. Checked first, as most values
#: of a topology (names, paths, addresses, URLs) are plain words.
_PLAIN = re.compile(r"[A-Za-z0-9_./:=,+@-]+")


def _check(fmt: str, value: str) -> None:
    if type(value) is str and value.isprintable():
        return      # nearly every value: settled without a call to unsafe_reason
    if not isinstance(value, str):
        raise UnsafeValue(fmt, value, "is not a string")
    reason = unsafe_reason(value)
    if reason:
        raise UnsafeValue(fmt, value, reason)


def _check_unstripped(fmt: str, reader: str, value: str) -> None:
    """:func:`_check`, and refuse the outer whitespace ``reader`` would strip off."""
    _check(fmt, value)
    if value.strip() != value:
        raise UnsafeValue(fmt, value, f"{reader} strips leading and trailing whitespace")


_INI_KEY = re.compile(r"[A-Za-z0-9_.-]+")


def ini_key(key: str) -> str:
    """Return ``key`` if it can name an oslo.config option or section."""
    if not isinstance(key, str) or not _INI_KEY.fullmatch(key):
        raise UnsafeValue("ini", key, "keys and sections are made of letters, digits, '_', '.' and '-'")
    return key


def ini_unsafe_reason(value: str) -> str | None:
    """Why ``value`` cannot be an oslo.config value (beyond :func:`unsafe_reason`), or ``None``."""
    if "\\$" in value:
        return "oslo.config reads a backslash before '$' as an escape, so no quoting keeps it"
    return None


def ini_value(value: str) -> str:
    """Quote ``value`` for an oslo.config ini file."""
    if type(value) is str and _PLAIN.fullmatch(value):
        return value
    _check("ini", value)
    reason = ini_unsafe_reason(value)
    if reason:
        raise UnsafeValue("ini", value, reason)
    text = value.replace("$", "$$")
    needs_quotes = value.strip() != value or (
        len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'")
    if len(value) == 1 and value in "\"'":
        needs_quotes = True
    return f'"{text}"' if needs_quotes else text


def uwsgi_value(value: str) -> str:
    """Return ``value`` for a uwsgi ini file, where nothing can be quoted."""
    if type(value) is str and _PLAIN.fullmatch(value):
        return value
    _check_unstripped("uwsgi ini", "uwsgi", value)
    for marker in ("%", "$(", "@(", "{{"):
        if marker in value:
            raise UnsafeValue("uwsgi ini", value, f"uwsgi expands {marker!r}")
    if value[:1] in ("#", ";"):
        raise UnsafeValue("uwsgi ini", value, "would be read as a comment")
    return value


_APACHE_BARE = re.compile(r"[A-Za-z0-9_./:=,+@%{}|*\[\]-]+")


def apache_arg(value: str) -> str:
    """Quote ``value`` as one argument of an Apache httpd directive.

    Inside double quotes httpd's ``ap_getword_conf`` reads ``\\\\`` as one
    backslash and ``\\"`` as a quote, so both are escaped; any other value
    that is not a plain word gets quoted.
    """
    if type(value) is str and _PLAIN.fullmatch(value):
        return value
    _check("Apache config", value)
    if "${" in value:
        raise UnsafeValue("Apache config", value, "Apache expands '${...}'")
    if _APACHE_BARE.fullmatch(value):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


_HAPROXY_BARE = re.compile(r"[A-Za-z0-9_.:/@+=,~\[\]-]+")


def haproxy_word(value: str) -> str:
    """Quote ``value`` as one word of haproxy.cfg."""
    if type(value) is str and _PLAIN.fullmatch(value):
        return value
    _check("haproxy.cfg", value)
    if _HAPROXY_BARE.fullmatch(value):
        return value
    if "'" in value:
        raise UnsafeValue("haproxy.cfg", value, "contains a single quote")
    return f"'{value}'"


def systemd_value(value: str) -> str:
    """Escape ``value`` for a plain systemd unit setting (``User=``, ...)."""
    if type(value) is str and _PLAIN.fullmatch(value):
        return value
    _check_unstripped("systemd unit", "systemd", value)
    if value.endswith("\\"):
        raise UnsafeValue("systemd unit", value, "a trailing backslash continues the line")
    return value.replace("%", "%%")


_SYSTEMD_BARE = re.compile(r"[A-Za-z0-9_./:=,+@-]+")


def systemd_exec_arg(value: str) -> str:
    """Quote ``value`` as one argument of a systemd ``Exec*=`` command line."""
    if type(value) is str and _PLAIN.fullmatch(value):
        return value
    _check("systemd unit", value)
    text = value.replace("%", "%%").replace("$", "$$")
    if _SYSTEMD_BARE.fullmatch(value):
        return text
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def python_str(value: str) -> str:
    """Return a double-quoted Python string literal for ``value``."""
    _check("Python script", value)
    return json.dumps(value, ensure_ascii=False)


def dot_string(value: str) -> str:
    """A double-quoted Graphviz DOT string (``\\n`` in ``value`` stays a DOT line break)."""
    _check("DOT", value)
    return '"' + value.replace("\\", "\\\\").replace("\\\\n", "\\n").replace('"', '\\"') + '"'


#: What makes Ansible treat a string as a template: ``{{``, ``{%``, ``{#``
#: (and a lone ``%`` or ``{`` is tagged too, to leave no doubt).
_TEMPLATE_MARKERS = ("{", "%")


#: Written bare: no YAML indicator, never a number, bool or null in YAML 1.1.
_YAML_BARE = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*")
_YAML_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


def yaml_str(value: str) -> str:
    """A YAML string that Ansible will never template: bare when plain, else double-quoted."""
    if type(value) is str and _YAML_BARE.fullmatch(value) and value.lower() not in _YAML_WORDS:
        return value
    _check("YAML", value)
    text = json.dumps(value, ensure_ascii=False)
    if any(marker in value for marker in _TEMPLATE_MARKERS):
        return f"!unsafe {text}"
    return text


def yaml_key(value: str) -> str:
    """A mapping key for Ansible YAML: keys are never templated, so none may look like one."""
    _check("YAML", value)
    if any(marker in value for marker in _TEMPLATE_MARKERS):
        raise UnsafeValue("YAML", value, "a mapping key cannot be tagged !unsafe")
    return json.dumps(value, ensure_ascii=False)


def sql_string(value: str) -> str:
    """A MariaDB string literal (default sql_mode: backslash is an escape)."""
    _check("SQL", value)
    return "'" + value.replace("\\", "\\\\").replace("'", "''") + "'"


def sql_identifier(value: str) -> str:
    """A backquoted MariaDB identifier (database, table)."""
    _check("SQL", value)
    if not value or value != value.rstrip():
        raise UnsafeValue("SQL", value, "an identifier cannot be empty or end in a space")
    return "`" + value.replace("`", "``") + "`"


def mysql_option(value: str) -> str:
    """A value in a MariaDB option file (``key = "value"``)."""
    _check("MariaDB option file", value)
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def shell_env(value: str) -> str:
    """A single-quoted word for a file a POSIX shell sources."""
    _check("shell", value)
    return "'" + value.replace("'", "'\\''") + "'"


def tmpfiles_field(value: str) -> str:
    """One field of a ``tmpfiles.d`` line."""
    if type(value) is str and _PLAIN.fullmatch(value):
        return value
    _check("tmpfiles.d", value)
    if not value or any(c.isspace() for c in value) or "\\" in value:
        raise UnsafeValue("tmpfiles.d", value, "fields are split on whitespace and unescaped")
    return value.replace("%", "%%")
