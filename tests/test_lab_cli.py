"""``heat-wsgi lab`` refuses bad input in one line, exit 2, before it touches anything."""

from __future__ import annotations

from pathlib import Path

import pytest

from heat_wsgi.cli import main
from heat_wsgi.lab import executor


@pytest.mark.parametrize(("args", "message"), [
    (["--machine", "a=10.0.0.1"],
     "heat-wsgi: error: lab machine 'a' address: must be a host address in 198.18.0.0/24 "
     "(got '10.0.0.1')"),
    (["--machine", "a=198.18.0.1", "--machine", "b=198.18.0.1"],
     "heat-wsgi: error: lab machine 'b': address is already taken (got '198.18.0.1')"),
    (["--prefix", "HW"], "heat-wsgi: error: lab prefix: must be 1-8 lowercase letters"),
])
def test_lab_up_refuses_bad_machines_in_one_line(args, message, tmp_path: Path, capsys,
                                                 monkeypatch):
    ran: list[object] = []
    monkeypatch.setattr(executor, "run", lambda *a, **k: ran.append(a))  # nothing may run
    assert main(["lab", "up", "--state-dir", str(tmp_path / "lab"), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith(message) and err.count("\n") == 1, err
    assert "Traceback" not in err and ran == []
    assert not (tmp_path / "lab").exists()


def test_lab_status_without_a_lab(tmp_path: Path, capsys):
    assert main(["lab", "status", "--state-dir", str(tmp_path)]) == 3
    assert capsys.readouterr().out == f"heat-wsgi: no lab is running from {tmp_path}\n"
