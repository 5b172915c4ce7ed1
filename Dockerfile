# Builds the hookvault binary (offline query cache, no database needed) and runs it.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
ENV SQLX_OFFLINE=true
RUN cargo build --release --locked --bin hookvault

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates && rm -rf /var/lib/apt/lists/*
COPY --from=build /src/target/release/hookvault /usr/local/bin/hookvault
USER nobody
EXPOSE 8080
ENTRYPOINT ["hookvault"]
CMD ["serve", "--listen", "0.0.0.0:8080", "--data-dir", "/tmp/hookvault"]
