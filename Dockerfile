# agentcert service image. go-sqlite3 needs cgo, so the binary is built
# against glibc and runs on the matching Debian release.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=1 go build -trimpath -o /out/agentcert ./cmd/agentcert

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl && rm -rf /var/lib/apt/lists/* \
    && useradd --system --home /var/lib/agentcert --create-home agentcert
COPY --from=build /out/agentcert /usr/local/bin/agentcert
USER agentcert
WORKDIR /var/lib/agentcert
EXPOSE 8080
ENTRYPOINT ["agentcert"]
CMD ["serve", "--config", "/etc/agentcert/config.yaml"]
