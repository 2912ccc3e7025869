# agentcert container image: issuer, status lists and verifier in one binary.
#
#   docker build -t agentcert .
#   docker run --rm -p 8080:8080 -e AGENTCERT_KEY_ENCRYPTION_KEY=... \
#     -e AGENTCERT_PUBLIC_URL=https://issuer.example.com -v agentcert-data:/var/lib/agentcert agentcert
#
# The build stage compiles with cgo (the SQLite store is mattn/go-sqlite3);
# the runtime stage is distroless (glibc, CA certificates, no shell, no
# package manager) and runs as the unprivileged "nonroot" user (65532).

FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -buildvcs=false -ldflags "-s -w" -o /out/agentcert ./cmd/agentcert \
 && mkdir -p /out/data

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/agentcert /usr/local/bin/agentcert
COPY configs/ /etc/agentcert/
# The default config (docker-compose.yaml mounts its own here).
COPY configs/issuer.yaml /etc/agentcert/config.yaml
# The data directory (SQLite database, lock); mount a volume here.
COPY --from=build --chown=65532:65532 /out/data /var/lib/agentcert
USER 65532:65532
ENV AGENTCERT_DATA_DIR=/var/lib/agentcert
# issuer.yaml listens on loopback (for a TLS proxy on the same host): in a
# container the proxy reaches the service over the container network.
ENV AGENTCERT_LISTEN=0.0.0.0:8080
VOLUME ["/var/lib/agentcert"]
EXPOSE 8080
# No curl in the image: the binary probes itself.
HEALTHCHECK --interval=10s --timeout=4s --start-period=10s --retries=3 \
  CMD ["/usr/local/bin/agentcert", "healthcheck", "--url", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/usr/local/bin/agentcert"]
CMD ["serve", "--config", "/etc/agentcert/config.yaml"]
