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
# uv resolves like pip, from the same indexes, in a fraction of the time on a
# fresh clone (CI's: the checkout's .venv is new each run, ~/.cache is not).
# It is bootstrapped once, pinned, into ~/.cache; pip stays the fallback when
# it cannot be had. uv does not read pip's configuration, so the indexes,
# find-links and constraints pip is configured with are passed to it.
UV_VERSION=0.13.8
uv_home="${XDG_CACHE_HOME:-$HOME/.cache}/heat_wsgi/uv-$UV_VERSION"
uv_bootstrap() {
  [ -x "$uv_home/bin/uv" ] && return 0
  rm -rf "$uv_home.tmp"
  python3 -m pip install -q --disable-pip-version-check --target "$uv_home.tmp" "uv==$UV_VERSION" \
    && rm -rf "$uv_home" && mv "$uv_home.tmp" "$uv_home"
}
uv_pip_args() {
  local key value
  while IFS='=' read -r key value; do
    value=${value#\'}; value=${value%\'}
    case "$key" in
      *.index-url) for v in $value; do echo "--index-url=$v"; done ;;
      *.extra-index-url) for v in $value; do echo "--extra-index-url=$v"; done ;;
      *.find-links) for v in $value; do echo "--find-links=$v"; done ;;
      *.constraint) for v in $value; do echo "--constraint=$v"; done ;;
    esac
  done < <(.venv/bin/pip config list 2>/dev/null | sort -u)
}
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  installed=
  if uv_bootstrap; then
    echo "install: uv pip install -e .[heat,test,docs,ansible] (uv $UV_VERSION)"
    mapfile -t uv_args < <(uv_pip_args)
    # unsafe-best-match: the best version across every index, as pip picks.
    uv=("$uv_home/bin/uv" pip install -q --python .venv/bin/python --index-strategy unsafe-best-match "${uv_args[@]}")
    "${uv[@]}" --upgrade pip setuptools wheel && "${uv[@]}" -e '.[heat,test,docs,ansible]' && installed=uv
  fi
  if [ -z "$installed" ]; then
    echo "install: uv $UV_VERSION unavailable or failed; pip install -e .[heat,test,docs,ansible]"
    .venv/bin/pip install -q --upgrade pip setuptools wheel
    .venv/bin/pip install -q -e '.[heat,test,docs,ansible]'
  fi
  echo "$want" > "$stamp"
fi
# Heat 24 (the last with the [heat_api] bind options) and 26 for
# tests/test_heat_release_real.py, cached in ~/.cache/heat_wsgi/venvs.
for series in 24 26; do
  echo "install: Heat $series release venv (tests/releasevenv.py)"
  (cd tests && ../.venv/bin/python -c "import releasevenv; releasevenv.release_venv('$series')")
done
echo "install: done"
