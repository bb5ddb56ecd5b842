#!/usr/bin/env bash
# Install everything heat_wsgi needs on a Debian machine: the system servers
# from apt and the project virtualenv at .venv/. Safe to run again: each step
# only does work when something is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  apache2 libapache2-mod-wsgi-py3   # Apache, Debian's mod_wsgi (py3.11)
  haproxy rabbitmq-server mariadb-server
  libpcre2-dev                      # lets pip's uwsgi build internal routing
  apache2-utils                     # ab, for bench/entrypoint.py
  curl procps
  # the multi-host lab (heat-wsgi lab, tests/test_lab.py): systemd-nspawn and
  # the systemd it boots, sshd in the machines, ssh/ssh-keygen/ssh-keyscan,
  # ip netns, mount; python3 is Ansible's interpreter in the machines
  systemd-container systemd dbus openssh-server openssh-client iproute2 util-linux python3
)

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  echo "install: apt packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if [ ! -x .venv/bin/python ]; then
  echo "install: creating .venv"
  python3 -m venv .venv
fi
# The stamp holds a hash of setup.cfg so a changed dependency list reinstalls.
stamp=.venv/.heat_wsgi-installed
want=$(sha256sum setup.cfg pyproject.toml | sha256sum | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "install: pip install -e .[heat,test,docs,ansible]"
  .venv/bin/pip install -q --upgrade pip setuptools wheel
  .venv/bin/pip install -q -e '.[heat,test,docs,ansible]'
  echo "$want" > "$stamp"
fi
# Heat 24 (the last with the [heat_api] bind options) and 26 for
# tests/test_heat_release_real.py, cached in ~/.cache/heat_wsgi/venvs.
for series in 24 26; do
  echo "install: Heat $series release venv (tests/releasevenv.py)"
  (cd tests && ../.venv/bin/python -c "import releasevenv; releasevenv.release_venv('$series')")
done
echo "install: done"
