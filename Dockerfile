# syntax=docker/dockerfile:1
# The elevator server image: the release binary alone on distroless (glibc, CA certificates, no
# shell, no package manager), running as the unprivileged user 65532.
#
#   docker build -t ghcr.io/elevator-dev/elevator:0.1.0 .
#
# The build needs no system protoc: build.rs uses the vendored one.

FROM rust:1.95-bookworm AS builder
WORKDIR /src
COPY . .
# The registry and target caches speed up rebuilds; the binary is copied out of the cache mount.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin elevator \
    && cp target/release/elevator /usr/local/bin/elevator

FROM gcr.io/distroless/cc-debian12:nonroot
LABEL org.opencontainers.image.title="elevator" \
      org.opencontainers.image.description="Just-in-time role elevation, served as a gRPC authorization decision point" \
      org.opencontainers.image.licenses="Apache-2.0"
COPY --from=builder /usr/local/bin/elevator /usr/local/bin/elevator
# A container is reached from outside itself: listen on every interface, not the loopback
# default. The Helm chart sets both explicitly as well.
ENV ELEVATOR_LISTEN=0.0.0.0:50051 \
    ELEVATOR_ADMIN_LISTEN=0.0.0.0:9090
USER 65532:65532
# gRPC API; admin HTTP (/metrics, /healthz, /readyz).
EXPOSE 50051 9090
ENTRYPOINT ["/usr/local/bin/elevator"]
CMD ["serve"]
