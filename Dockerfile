# syntax=docker/dockerfile:1
# The elevator server image: the release binaries alone on distroless (glibc, CA certificates, no
# shell, no package manager), running as the unprivileged user 65532. Beside the server, the
# load generator (`--entrypoint /usr/local/bin/elevator-loadtest`), which the image has always
# carried (it was the `elevator loadtest` subcommand).
#
#   docker build -t ghcr.io/elevator-dev/elevator:0.1.0 .
#
# The build needs no system protoc: build.rs uses the vendored one.

FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
# The registry and target caches speed up rebuilds; the binaries are copied out of the cache mount.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin elevator --bin elevator-loadtest \
    && cp target/release/elevator target/release/elevator-loadtest /usr/local/bin/

FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="elevator" \
      org.opencontainers.image.description="Just-in-time role elevation, served as a gRPC authorization decision point" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /usr/local/bin/elevator /usr/local/bin/elevator
COPY --from=builder /usr/local/bin/elevator-loadtest /usr/local/bin/elevator-loadtest
# A container is reached from outside itself: listen on every interface, not the loopback
# default. The Helm chart sets both explicitly as well.
ENV ELEVATOR_LISTEN=0.0.0.0:50051 \
    ELEVATOR_ADMIN_LISTEN=0.0.0.0:9090
USER 65532:65532
# gRPC API; admin HTTP (/metrics, /healthz, /readyz).
EXPOSE 50051 9090
ENTRYPOINT ["/usr/local/bin/elevator"]
CMD ["serve"]
