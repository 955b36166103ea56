# relay-node container image (multi-stage, Debian 12 packages only).
#   docker build -t remote-control/relay-node .        (or: podman build / buildah bud)
# The build stage installs the Debian build dependencies of scripts/bootstrap.sh that relay-node
# needs and builds only that target; the runtime stage carries the binary and its shared
# libraries, runs as an unprivileged user and works with a read-only root filesystem.

# ---- build ----
FROM debian:12-slim AS build
ARG DEBIAN_FRONTEND=noninteractive
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config make ca-certificates \
      libcaf-dev libboost1.81-dev nlohmann-json3-dev libssl-dev \
      libnats-dev libhiredis-dev libqrencode-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Only what the relay-node target compiles (see .dockerignore); tests/, pwa/, bench/ and
# desktop-bridge/ stay out of the image (optional folders in the top-level CMakeLists.txt).
COPY CMakeLists.txt ./
COPY cmake/ cmake/
COPY protocol/ protocol/
COPY persistence/ persistence/
COPY settings/ settings/
COPY actors/ actors/
COPY gateway/ gateway/
COPY node/ node/
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "-DRC_EXCLUDE=desktop-bridge;bench" \
 && cmake --build /build --target relay-node -j"$(nproc)" \
 && strip --strip-unneeded -o /relay-node /build/bin/relay-node

# ---- runtime ----
FROM debian:12-slim AS runtime
ARG DEBIAN_FRONTEND=noninteractive
# Runtime libraries of relay-node (the -dev packages above depend on exactly these) + curl for
# the HEALTHCHECK. libstdc++6 and libc6 are in the base image.
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libcaf-core0.17 libssl3 libnats3.4 libhiredis0.14 ca-certificates curl \
 && rm -rf /var/lib/apt/lists/* \
 && groupadd --system --gid 10001 relay \
 && useradd --system --uid 10001 --gid relay --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin relay
COPY --from=build /relay-node /usr/local/bin/relay-node
COPY config/ /etc/remote-control/examples/
# Listen on every interface inside the container; the admin listener stays on loopback unless
# ADMIN_HOST is set (compose / Kubernetes set it and keep the port off public networks).
ENV HOST=0.0.0.0 \
    PORT=8787
USER 10001:10001
EXPOSE 8787 8788
# SIGTERM drains: sockets get `disconnect server_shutdown`, state stays in Redis, exit 0 (≤ ~7 s).
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=10s --timeout=3s --start-period=5s --retries=3 \
  CMD curl -fsS --max-time 2 "http://127.0.0.1:${PORT}/healthz" >/dev/null || exit 1
ENTRYPOINT ["/usr/local/bin/relay-node"]
