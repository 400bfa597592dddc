# Multi-stage build: compile with the Rust toolchain, run on a slim Debian with a non-root user.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY templates ./templates
COPY benches ./benches
RUN cargo build --release --locked --bin rondo

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --create-home rondo
COPY --from=build /src/target/release/rondo /usr/local/bin/rondo
USER rondo
WORKDIR /data
VOLUME ["/data"]
ENV RONDO_LISTEN=0.0.0.0:8080 \
    RONDO_DATABASE_URL=sqlite:///data/rondo.db?mode=rwc
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=10s --retries=3 \
  CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["/usr/local/bin/rondo"]
