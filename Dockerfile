# syntax=docker/dockerfile:1
#
# One image with both services, leafsync-consumer and leafsync-producer; the Kubernetes
# manifests choose the binary with `command:` (k8s/*/30-producer.yaml, 40-consumer.yaml).
#
#   docker build -t leafsync:dev .
#   docker run --rm leafsync:dev --print-env
#
# Build stage: the same two commands CI runs (scripts/install-deps.sh, scripts/build.sh, both
# called by scripts/test.sh), so the image is built with the same packages, compiler flags and
# build type that the tests test; only the build-time subset of the packages is installed
# (--build-only: no PostgreSQL server, Prometheus, Java, Maven or matplotlib) and the tests are
# not compiled (-DBUILD_TESTING=OFF).
#
# CI does not run this file (a full build takes ~15 min on 2 cores): scripts/image.sh builds
# Dockerfile.runtime, whose runtime stage is this file's, from the binaries CI already built
# and tested in build/bin. scripts/image.sh --full builds this file.
#
# Runtime stage: debian:bookworm-slim plus the Debian packages that own the shared libraries the
# two binaries link (read from the binaries' NEEDED entries in the build stage, not listed by
# hand: librdkafka++1, libpistache0, libprometheus-cpp-core1.0, libyaml-cpp0.7, libsqlite3-0,
# libsimdjson14, libcurl4, libpq5 once the PostgreSQL store links it, ...). A missing library
# fails the build (ldd check), not the first pod start.
#
# Runs as uid/gid 10001 (the manifests' runAsUser), with an exec-form ENTRYPOINT: the binary is
# PID 1 and receives SIGTERM itself. It blocks SIGTERM/SIGINT and sigwait()s for them, which
# works for PID 1 (blocked signals are delivered even to a namespace's init), then drains and
# exits 0 in about a second. It starts no child processes, so no init/reaper is needed.

ARG DEBIAN_SUITE=bookworm

# ---------------------------------------------------------------- build ------
FROM debian:${DEBIAN_SUITE} AS build
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive
WORKDIR /src

# The dependency layer is rebuilt only when the package list changes.
COPY scripts/install-deps.sh scripts/install-deps.sh
RUN scripts/install-deps.sh --build-only && rm -rf /var/lib/apt/lists/*

COPY . .
RUN scripts/build.sh build -DBUILD_TESTING=OFF

# Stage the (stripped) binaries and name the Debian packages that own the libraries they need.
RUN mkdir -p /out/bin \
 && install -m 0755 -s build/bin/leafsync-consumer build/bin/leafsync-producer /out/bin/ \
 && objdump -p /out/bin/leafsync-consumer /out/bin/leafsync-producer \
      | awk '$1 == "NEEDED" {print $2}' | sort -u \
      | xargs -I{} dpkg-query -S '*/{}' \
      | grep -v '^diversion' | sed -e 's/:.*//' -e 's/, /\n/g' | sort -u > /out/runtime-packages.txt \
 && echo "runtime packages: $(tr '\n' ' ' < /out/runtime-packages.txt)"

# -------------------------------------------------------------- runtime ------
# Same text as Dockerfile.runtime from here on, except where the files come from
# (scripts/image.sh compares the two and refuses to build when they differ).
FROM debian:${DEBIAN_SUITE}-slim AS runtime
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ARG DEBIAN_FRONTEND=noninteractive

COPY --from=build /out/runtime-packages.txt /tmp/runtime-packages.txt
RUN apt-get update -qq \
 && xargs -a /tmp/runtime-packages.txt \
      apt-get install -y -qq --no-install-recommends ca-certificates \
 && rm -rf /var/lib/apt/lists/* /tmp/runtime-packages.txt

RUN groupadd --system --gid 10001 leafsync \
 && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin leafsync \
 && install -d -o 10001 -g 10001 /app /app/var

COPY --from=build /out/bin/ /usr/local/bin/
# Defaults for `docker run`; in Kubernetes the ConfigMap mounted at /etc/leafsync is used.
COPY config/ /app/config/

# Every library resolves, and both binaries start far enough to list their settings.
RUN if ldd /usr/local/bin/leafsync-consumer /usr/local/bin/leafsync-producer | grep 'not found'; then \
      echo "missing runtime libraries (see above)" >&2; exit 1; \
    fi \
 && /usr/local/bin/leafsync-consumer --print-env >/dev/null \
 && /usr/local/bin/leafsync-producer print-env >/dev/null

LABEL org.opencontainers.image.title="leafsync" \
      org.opencontainers.image.description="Kafka change-data-capture sync for the Leaf Image Management System: leafsync-consumer and leafsync-producer" \
      org.opencontainers.image.base.name="debian:bookworm-slim"

WORKDIR /app
USER 10001:10001
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/leafsync-consumer"]
CMD ["--config", "/app/config/consumer.yaml"]
