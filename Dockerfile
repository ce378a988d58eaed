# sipbridge container image. The build stage runs the same command as README.md's "Build"
# section; the runtime stage holds only the binary and libopus.
FROM rust:1-bookworm AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopus-dev pkg-config \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release --locked -p sipbridge

FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libopus0 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/sipbridge --create-home sipbridge \
 && mkdir -p /etc/sipbridge
COPY --from=build /src/target/release/sipbridge /usr/local/bin/sipbridge
COPY config/examples/production.yaml /etc/sipbridge/config.example.yaml
USER sipbridge
WORKDIR /var/lib/sipbridge
# SIP, the RTP port range of the default config, and the HTTP port (Twirp API, /metrics, /health).
EXPOSE 5060/udp 5060/tcp
EXPOSE 10000-20000/udp
EXPOSE 8080/tcp
# Mount the configuration at /etc/sipbridge/config.yaml (check it first with
# `docker run <image> check-config /etc/sipbridge/config.yaml`).
ENTRYPOINT ["/usr/local/bin/sipbridge"]
CMD ["--config", "/etc/sipbridge/config.yaml"]
