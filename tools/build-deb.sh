#!/usr/bin/env bash
# Builds the Debian package with cargo-deb: the release binary, then what the binary generates
# (man pages, completions, the unit, the example environment file) into packaging/out/, then
# `cargo deb`, then lists it. Not run by CI (installing cargo-deb there costs minutes on a
# 2-core machine; tests/package_deb.rs builds a package from the same asset list with dpkg-deb).
# Needs: cargo install cargo-deb --locked.
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
