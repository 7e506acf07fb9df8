# Roomcast: a multi-stage build. The first stage compiles the release binary (templates and
# static files are compiled into it); the second is Debian slim with ffmpeg, the PostgreSQL
# client library and the binary, running as an unprivileged user.
#
#   docker build -t roomcast .
#   docker run -p 8080:8080 -v roomcast-data:/var/lib/roomcast roomcast
#
# Without configuration it serves on SQLite under /var/lib/roomcast. For many nodes set
# ROOMCAST__DATABASE__URL, ROOMCAST__BUS__KIND=nats and ROOMCAST__BUS__NATS_URL, and mount
# one shared volume at /var/lib/roomcast/data (see docs/operations.md).

FROM rust:1.95-bookworm AS build
RUN apt-get update \
    && apt-get install -y --no-install-recommends pkg-config libpq-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin roomcast \
    && strip target/release/roomcast

FROM debian:bookworm-slim AS runtime
RUN apt-get update \
    && apt-get install -y --no-install-recommends ffmpeg libpq5 ca-certificates tini \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/roomcast --create-home roomcast
COPY --from=build /src/target/release/roomcast /usr/local/bin/roomcast
USER 10001
WORKDIR /var/lib/roomcast
ENV ROOMCAST__HTTP__ADDR=0.0.0.0:8080 \
    ROOMCAST__INGEST__RTMP_ADDR=0.0.0.0:1935 \
    ROOMCAST__STORAGE__DIR=/var/lib/roomcast/data \
    ROOMCAST__DATABASE__URL=sqlite:///var/lib/roomcast/roomcast.db \
    RUST_LOG=info
EXPOSE 8080 1935
VOLUME ["/var/lib/roomcast"]
# tini reaps children and passes SIGTERM on, so a rolling update stops ffmpeg cleanly.
ENTRYPOINT ["/usr/bin/tini", "--", "/usr/local/bin/roomcast"]
CMD ["serve"]
