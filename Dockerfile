# Scribe's container image: `docker build -t scribe .`, then see docker-compose.yml.

FROM rust:1.95-bookworm AS build
WORKDIR /src
# Dependencies first, in a layer of their own: a change to Scribe's code does not rebuild them.
COPY Cargo.toml Cargo.lock ./
RUN mkdir -p src benches \
    && echo 'fn main() {}' > src/main.rs && touch src/lib.rs && echo 'fn main() {}' > benches/replay.rs \
    && cargo build --release --locked \
    && rm -rf src benches
COPY . .
# The build keeps line tables (for profiling and backtraces where it runs); the image ships
# the binary without them.
RUN touch src/main.rs src/lib.rs && cargo build --release --locked \
    && strip --strip-debug target/release/scribe

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl git \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/scribe scribe \
    && mkdir -p /var/lib/scribe && chown scribe /var/lib/scribe
# Templates and the default configuration are inside the binary; git publishes drafts.
COPY --from=build /src/target/release/scribe /usr/local/bin/scribe
USER scribe
WORKDIR /var/lib/scribe
ENV SCRIBE__DATA_DIR=/var/lib/scribe \
    SCRIBE__SERVER__LISTEN=0.0.0.0:8080 \
    SCRIBE__LOG__FORMAT=json
VOLUME ["/var/lib/scribe"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s \
    CMD curl -fsS http://127.0.0.1:8080/healthz || exit 1
ENTRYPOINT ["scribe"]
CMD ["serve"]
