"""The parts of heat_wsgi.runtime that refuse before anything starts: taken ports,
missing binaries, a state dir Apache's workers cannot enter. No process is started."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from heat_wsgi.errors import ServiceError
from heat_wsgi.runtime import apache, process


def test_port_in_use_is_detected() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.34", 0))
        sock.listen()
        port = sock.getsockname()[1]
        assert process.port_in_use("127.0.0.34", port)
        with pytest.raises(ServiceError, match=f"127.0.0.34:{port} is already in use"):
            process.require_free_ports("thing", [("127.0.0.34", port)])
    assert not process.port_in_use("127.0.0.34", port)


def test_missing_binary_names_service(tmp_path: Path) -> None:
    with pytest.raises(ServiceError, match="nope.*cannot run /nonexistent/bin"):
        process.spawn("nope", ["/nonexistent/bin"], state_dir=tmp_path)


def test_apache_refuses_state_dir_www_data_cannot_reach(tmp_path: Path) -> None:
    hidden = tmp_path / "private"
    hidden.mkdir(mode=0o700)
    with pytest.raises(ServiceError, match="www-data .* cannot enter"):
        apache.start_apache(hidden / "httpd.conf", hidden, hidden / "state")
