# Sourced by the bench scripts: what they install, and which binaries they run.

# need COMMAND PACKAGE: installs PACKAGE from Debian when COMMAND is missing.
need() { command -v "$1" >/dev/null || { echo "installing $2 from Debian"; apt-get install -y -qq "$2" >/dev/null; }; }

# release_bin CARGO_TARGET_ARGS...: sets BIN to BENCH_BIN when it is given (prebuilt binaries, to
# compare builds), else builds the gateway crate's release targets and uses them.
release_bin() {
  if [ -n "${BENCH_BIN:-}" ]; then
    BIN=$BENCH_BIN
  else
    echo "building release binaries"
    cargo build -q --release -p gateway "$@"
    BIN=${CARGO_TARGET_DIR:-target}/release
  fi
}
