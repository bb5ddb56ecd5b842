"""The exception hierarchy: every error heat_wsgi raises on purpose."""

from __future__ import annotations

from heat_wsgi.redact import escape_text, mask_secrets, shown_value


def located(path: str, message: str, value: object = None, source: str | None = None) -> str:
    """``path: message (got VALUE) in file:line``, the form of every model error and problem.

    A ``value`` of ``None`` means "nothing to show" (a YAML syntax error has none).
    The line is safe to print: passwords masked (a secret-named field shows
    ``***``), control characters in the path, message and source escaped, so
    no name can add a line or a terminal escape.
    """
    text = f"{escape_text(path)}: {escape_text(mask_secrets(message))}"
    if value is not None:
        text += f" (got {shown_value(path, value)})"
    return f"{text} in {escape_text(source)}" if source else text


class HeatWsgiError(Exception):
    """Base of every error heat_wsgi raises for bad input or a failed step.

    The CLI turns any of these into a one-line message and exit status 2;
    anything else escaping is a bug.
    """


class BootError(HeatWsgiError):
    """A WSGI entrypoint cannot build its application.

    ``message`` already says what was looked for and what was found, so it is
    printed once at start-up as it is, without a traceback.
    """

    def __init__(self, service: str, message: str) -> None:
        super().__init__(service, message)
        self.service = service
        self.message = message

    def __str__(self) -> str:
        return f"heat_wsgi: cannot start {self.service}: {self.message}"


class TopologyError(HeatWsgiError, ValueError):
    """One field of the deployment model holds a value it must not.

    ``path`` locates the field (``api_instances[api-1].port``), ``value`` is
    what was received and ``source`` is ``file:line`` when the topology came
    from YAML.
    """

    def __init__(self, path: str, message: str, value: object = None,
                 source: str | None = None) -> None:
        super().__init__(path, message, value, source)
        self.path = path
        self.message = message
        self.value = value
        self.source = source

    def __str__(self) -> str:
        return located(self.path, self.message, self.value, self.source)


class RenderError(HeatWsgiError):
    """A file could not be rendered or written; ``target`` names it."""

    def __init__(self, target: str, message: str) -> None:
        super().__init__(target, message)
        self.target = target
        self.message = message

    def __str__(self) -> str:
        return f"{self.target}: {self.message}"


class ServiceError(HeatWsgiError):
    """A private service instance failed to start, stop or become healthy.

    ``log`` is where its output went, so the message can point there.
    """

    def __init__(self, service: str, message: str, log: str | None = None) -> None:
        super().__init__(service, message, log)
        self.service = service
        self.message = message
        self.log = log

    def __str__(self) -> str:
        text = f"{self.service}: {self.message}"
        return f"{text} (log: {self.log})" if self.log else text


class LabError(HeatWsgiError):
    """The multi-host lab cannot be planned, started, reached or torn down.

    ``where`` names the part (``machine a``, ``teardown``, ``prefix``).
    """

    def __init__(self, where: str, message: str) -> None:
        super().__init__(where, message)
        self.where = where
        self.message = message

    def __str__(self) -> str:
        return f"lab {self.where}: {self.message}"
