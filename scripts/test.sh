#!/usr/bin/env bash
# The whole oslo-rs test suite, on a fresh Debian 12 machine with the Rust toolchain, as root.
#
#   scripts/test.sh            install what is missing, start the servers, run every check and test, stop
#                              the servers this run started
#   scripts/test.sh --setup    only install (Debian packages, the Python reference libraries, the test user)
#   scripts/test.sh --start    install and start the servers, and leave them running (for development:
#                              `eval "$(scripts/servers.sh env)"` then gives a shell the OSLO_TEST_* variables)
#
# Extra arguments after `--` go to the test runner (e.g. `scripts/test.sh -- -p oslo-config`).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export DEBIAN_FRONTEND=noninteractive
export CARGO_TERM_COLOR=${CARGO_TERM_COLOR:-never}
# A CI run builds once: incremental caches would only take disk (2 of its 8 GiB under target/).
if [ -n "${CI:-}" ]; then
  export CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-0}
fi

say() { printf '\n== %s\n' "$*"; }

mode=all
runner_args=()
while [ $# -gt 0 ]; do
  case $1 in
    --setup) mode=setup ;;
    --start) mode=start ;;
    --) shift; runner_args=("$@"); break ;;
    *) echo "usage: scripts/test.sh [--setup|--start] [-- RUNNER-ARGS...]" >&2; exit 2 ;;
  esac
  shift
done

[ "$(id -u)" = 0 ] || { echo "scripts/test.sh must run as root (it installs packages and starts servers)" >&2; exit 1; }

# --- Debian packages ---------------------------------------------------------------------------------------
PACKAGES=(
  sudo pkg-config gcc libc6-dev procps iproute2 openssl
  libsqlite3-dev libpq-dev libmariadb-dev libmariadb-dev-compat
  python3 python3-venv
  postgresql mariadb-server rabbitmq-server redis-server
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing Debian packages: ${missing[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- The musl target: oslo-rootwrap's recommended production build, built by its tests/static_build.rs ----
musl="$(rustc -vV | sed -n 's/^host: //p' | sed 's/-gnu$/-musl/')"
if ! rustup target list --installed 2>/dev/null | grep -qx "$musl"; then
  say "adding the Rust target $musl"
  rustup target add "$musl"
fi

# --- The Python reference libraries, in a virtualenv inside the ignored build area ------------------------
VENV=$ROOT/target/venv
REQ=$ROOT/scripts/python-requirements.txt
stamp=$(sha256sum "$REQ" | cut -d' ' -f1)
if [ ! -x "$VENV/bin/python" ] || [ "$(cat "$VENV/.oslo-stamp" 2>/dev/null)" != "$stamp" ]; then
  say "installing the Python reference libraries into target/venv"
  mkdir -p "$ROOT/target"
  [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
  "$VENV/bin/pip" install -q --disable-pip-version-check -r "$REQ"
  echo "$stamp" >"$VENV/.oslo-stamp"
fi
export OSLO_PYTHON=$VENV/bin/python

# --- An unprivileged user for the tests that go through real sudo -----------------------------------------
id -u oslo-rw-test >/dev/null 2>&1 || useradd --system --no-create-home --shell /bin/sh oslo-rw-test
export OSLO_TEST_UNPRIVILEGED_USER=oslo-rw-test

# --- Per-crate setup: scripts/setup-<crate>.sh, idempotent, run as root with OSLO_PYTHON set --------------
# (fixtures that come from PyPI packages, such as the real filter and policy files OpenStack services ship)
for s in scripts/setup-*.sh; do
  [ -e "$s" ] || continue
  say "setup: $s"
  bash "$s"
done

[ "$mode" = setup ] && exit 0

# --- Servers on 127.0.0.1 ---------------------------------------------------------------------------------
started=()
for s in postgres mysql rabbit redis; do
  if ! scripts/servers.sh status "$s" 2>/dev/null; then
    scripts/servers.sh start "$s"
    started+=("$s")
  fi
done
eval "$(scripts/servers.sh env)"
export OSLO_TEST_REQUIRE_SERVERS=1
[ "$mode" = start ] && { echo "servers running; eval \"\$(scripts/servers.sh env)\" for their variables"; exit 0; }
stop_started() { [ ${#started[@]} -eq 0 ] || scripts/servers.sh stop "${started[@]}"; }
trap stop_started EXIT

# --- Checks and tests -------------------------------------------------------------------------------------
# A CI run needs about 7 GiB under target/ (every crate and test with all features, the static rootwrap
# builds, the Python venv). Say so up front rather than fail half-way with "No space left on device".
free_kib=$(df -Pk "$ROOT" | awk 'NR == 2 { print $4 }')
say "disk: $((free_kib / 1024 / 1024)) GiB free for $ROOT/target"
if [ "${free_kib:-0}" -lt $((8 * 1024 * 1024)) ]; then
  echo "warning: less than 8 GiB free; the build may run out of space" >&2
fi

say "cargo fmt --check"
cargo fmt --all -- --check

say "clippy, every crate and target, all features, warnings denied"
cargo clippy --workspace --all-targets --all-features --quiet -- -D warnings

say "each crate alone, default features"
for c in oslo-config oslo-messaging oslo-db oslo-policy oslo-rootwrap taskflow stevedore; do
  cargo check -p "$c" --quiet
done

say "doctests"
cargo test --workspace --all-features --doc --quiet

# The test runner goes last: its summary is the run's closing line.
say "tests, every crate, all features"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --all-features --profile ci "${runner_args[@]}"
else
  cargo test --workspace --all-features "${runner_args[@]}"
fi

