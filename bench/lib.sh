# Sourced by the benchmark scripts (from the repository's root).
#
# Servers started side by side must not all take the RTMP port: benchmarks that publish
# set their own.
export ROOMCAST__INGEST__RTMP_ADDR="${ROOMCAST__INGEST__RTMP_ADDR:-}"
#
# build MODE: measurements run release binaries; a smoke run (MODE is --smoke) only proves
# the harness works, so it uses the debug build the test suite has already made instead of
# compiling everything a second time in release mode. Sets `bin`.
build() {
  if [[ "${1:-}" == "--smoke" ]]; then
    cargo build -q -p roomcast -p roomcast-bench
    bin=target/debug
  else
    cargo build --release -q -p roomcast -p roomcast-bench
    bin=target/release
  fi
}
