# topictable with its first-party plugins, built as scripts/build.sh builds
# them (release, -p only) and run as a non-root user.
#
#   docker build -t topictable .
#   docker run --rm topictable plugins list
#   docker compose up        # Redpanda, its schema registry, a producer and topictable
#
# The plugins sit in /opt/topictable/plugins, next to the binary, where
# topictable looks by default; TOPICTABLE_PLUGIN_DIR or --plugin-dir point
# elsewhere. Pipelines from examples/ are in /etc/topictable/examples.

FROM rust:1.95-bookworm AS builder
WORKDIR /src
# What librdkafka's build needs (cmake, OpenSSL, zlib, zstd), as scripts/demo.sh installs it;
# the runtime stage needs only OpenSSL and zlib (zstd is linked in).
COPY scripts/setup.sh scripts/setup.sh
RUN bash scripts/setup.sh build && rm -rf /var/lib/apt/lists/*
COPY . .
RUN scripts/build.sh \
    && mkdir -p /out/plugins \
    && cp target/release/topictable /out/ \
    && cp target/release/plugins/* /out/plugins/

FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 zlib1g \
    && rm -rf /var/lib/apt/lists/* \
    && groupadd --system --gid 10001 topictable \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin topictable
COPY --from=builder /out/ /opt/topictable/
COPY examples/ /etc/topictable/examples/
RUN ln -s /opt/topictable/topictable /usr/local/bin/topictable
USER 10001:10001
WORKDIR /tmp
ENTRYPOINT ["topictable"]
CMD ["--help"]
