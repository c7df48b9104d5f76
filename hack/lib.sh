# Shared set-up for hack/test.sh and hack/demo.sh: a project virtualenv and the pinned tools.

ensure_venv() {
  if [[ ! -x .venv/bin/python ]]; then
    python3 -m venv .venv
  fi
  # shellcheck disable=SC1091
  source .venv/bin/activate
  local stamp=.venv/.suanli-installed
  if [[ ! -f $stamp || pyproject.toml -nt $stamp ]]; then
    python -m pip install --quiet --upgrade pip
    python -m pip install --quiet -e '.[dev]'
    touch "$stamp"
  fi
}

ensure_tools() {
  # Prints the folder holding kube-apiserver, etcd, kwok, kubectl, helm, ...; builds on first use.
  # One build per cache at a time (suanli.devcluster.tools takes the same lock): a second caller
  # waits, then finds the first one's result.
  local lock
  lock="$(dirname "$(dirname "$(hack/build-tools.sh --print)")")/build.lock"
  mkdir -p "$(dirname "$lock")"
  flock "$lock" hack/build-tools.sh
}

ensure_chromium() {
  # Debian's headless Chromium for the web view's browser test and benchmark (no browser
  # download of its own: the distribution's package). Installed once, skipped when present.
  if command -v chromium >/dev/null 2>&1; then
    return 0
  fi
  if [[ $(id -u) -ne 0 ]]; then
    echo "chromium is missing; install it with: sudo apt-get install -y chromium" >&2
    return 1
  fi
  echo "installing chromium (Debian package) for the browser test" >&2
  apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >&2
}
