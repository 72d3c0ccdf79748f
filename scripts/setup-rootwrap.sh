#!/usr/bin/env bash
# Fixtures of the oslo-rootwrap tests: the real filter files OpenStack services ship, taken from their
# source distributions on PyPI into target/fixtures/rootwrap/<service>/ (never committed). Idempotent.
# Run as root by scripts/test.sh with OSLO_PYTHON set.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${OSLO_PYTHON:-$ROOT/target/venv/bin/python}
OUT=$ROOT/target/fixtures/rootwrap
DL=$OUT/dl
mkdir -p "$DL"

# service==version pairs; each sdist ships etc/<service>/rootwrap.d/*.filters
PACKAGES=(neutron==25.0.0 cinder==25.0.0 nova==30.0.0 manila==19.0.0 ironic==26.1.0 os-brick==6.9.0)

for spec in "${PACKAGES[@]}"; do
  name=${spec%%==*}
  version=${spec##*==}
  dest=$OUT/$name
  if compgen -G "$dest/*.filters" >/dev/null; then
    continue
  fi
  sdist=$(compgen -G "$DL/${name//-/[-_]}-$version.tar.gz" | head -n 1 || true)
  if [ -z "$sdist" ]; then
    echo "setup-rootwrap: downloading $spec"
    "$PY" -m pip download -q --disable-pip-version-check --no-deps --no-binary :all: "$spec" -d "$DL"
    sdist=$(compgen -G "$DL/${name//-/[-_]}-$version.tar.gz" | head -n 1)
  fi
  mkdir -p "$dest.tmp"
  tar -xzf "$sdist" -C "$dest.tmp" --wildcards '*/etc/*.filters'
  rm -rf "$dest"
  mkdir -p "$dest"
  find "$dest.tmp" -name '*.filters' -exec cp {} "$dest/" \;
  rm -rf "$dest.tmp"
  # Root-owned and not writable by others, as a packaged /etc/<service>/rootwrap.d is.
  chown -R 0:0 "$dest"
  chmod 0755 "$dest"
  chmod 0644 "$dest"/*.filters
done
echo "setup-rootwrap: filter files in $OUT: $(ls "$OUT"/*/*.filters | wc -l)"
