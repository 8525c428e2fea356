#!/usr/bin/env bash
# Builds the Debian package with cargo-deb: the release binary, then what the binary generates
# (man pages, completions, the unit, the example environment file) into packaging/out/, then
# `cargo deb`, then lists it. CI does not build in release mode: tests/package_deb.rs packages
# the tests' debug binary with the same metadata instead.
# Needs: cargo install cargo-deb --version 3.8.0 --locked.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! cargo deb --version >/dev/null 2>&1; then
  echo "cargo-deb is missing: cargo install cargo-deb --locked" >&2
  exit 1
fi
target="${CARGO_TARGET_DIR:-target}"
cargo build --release --locked
rm -rf packaging/out
"$target/release/sentri" generate-docs packaging/out
cargo deb --no-build
deb="$(ls -t "$target"/debian/sentri_*.deb | head -n 1)"
dpkg-deb -c "$deb"
echo "built $deb"
