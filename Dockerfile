# perfgate in a container: a static (musl) build in the first stage, then only the binary
# on a distroless base, run as a non-root user. Build: docker build -t perfgate .
# The release workflow builds and pushes it to ghcr.io on a version tag.
FROM rust:1-alpine AS build
# hadolint ignore=DL3018
RUN apk add --no-cache musl-dev
WORKDIR /src
COPY . .
RUN cargo build --release --locked && strip target/release/perfgate

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /src/target/release/perfgate /usr/local/bin/perfgate
USER 65532:65532
WORKDIR /work
ENTRYPOINT ["perfgate"]
CMD ["--help"]
