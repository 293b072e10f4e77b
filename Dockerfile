# lrogate in a container: built on Debian bookworm, run on bookworm-slim as a
# non-root user with the binary and the shared libraries it links, nothing
# else. Build: ./docker-build.sh [TAG]. Run:
#   docker run -p 8080:8080 -e AZURE_CU_ENDPOINT=https://RES.services.ai.azure.com \
#     -e AZURE_CU_KEY=... -v lrogate-data:/var/lib/lrogate lrogate
# (PostgreSQL for several replicas: -e LROGATE_STORE=postgresql://user@host:5432/db)

FROM debian:bookworm AS build
# The build packages of scripts/install-deps.sh (a test keeps the two lists equal).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      g++ cmake ninja-build pkg-config ccache ca-certificates \
      libboost1.81-dev libboost-json1.81-dev libboost-url1.81-dev \
      libssl-dev libsqlite3-dev libpq-dev libspdlog-dev libfmt-dev libcli11-dev prometheus-cpp-dev \
      libcjose-dev libjansson-dev libtomlplusplus-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY CMakeLists.txt ./
COPY src ./src
COPY docs ./docs
COPY tests ./tests
COPY scripts ./scripts
RUN BUILD_TYPE=Release bash scripts/build.sh && strip build/lrogate

FROM debian:bookworm-slim
# Runtime libraries of the binary (a test checks that every library it links
# comes from one of these, or from the base image).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates libboost-json1.81.0 libboost-url1.81.0 libssl3 libsqlite3-0 libpq5 \
      libspdlog1.10 libfmt9 libprometheus-cpp-core1.0 libcjose0 libjansson4 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/lrogate --create-home lrogate
COPY --from=build /src/build/lrogate /usr/local/bin/lrogate
USER lrogate
WORKDIR /var/lib/lrogate
ENV LROGATE_LISTEN=0.0.0.0:8080 \
    LROGATE_STORE=sqlite:/var/lib/lrogate/lrogate.db
VOLUME /var/lib/lrogate
EXPOSE 8080
# No curl in the image: bash's /dev/tcp asks /healthz.
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
  CMD ["bash", "-c", "exec 3<>/dev/tcp/127.0.0.1/8080 && printf 'GET /healthz HTTP/1.0\\r\\n\\r\\n' >&3 && head -1 <&3 | grep -q ' 200 '"]
ENTRYPOINT ["/usr/local/bin/lrogate"]
CMD ["serve"]
