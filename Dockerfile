# syntax=docker/dockerfile:1
# ShinyDB images: `docker build --target server -t shinydb/server:0.1.0 .` and
# `docker build --target operator -t shinydb/operator:0.1.0 .`
#
# The runtime stages mirror e2e/cluster/image-layout.env line for line (the e2e image tool,
# `e2e/cluster/image release`, builds the same layout from cargo release binaries without a
# Docker engine): binaries and their shared libraries in /usr/local/bin, user shinydb
# 10001:10001, /data owned by it with mode 0750 as working directory and volume, /tmp 1777,
# the CA bundle, PATH, entrypoints and exposed ports. e2e/tests/image_layout.rs checks this file
# against image-layout.env.

ARG RUST_VERSION=1.95

# Builder: every binary of both images, from the locked workspace.
FROM rust:${RUST_VERSION}-bookworm AS builder
WORKDIR /src
COPY . .
RUN cargo build --release --locked --bin shinydb-server --bin shinydb --bin shinydb-operator

# Root filesystems of the runtime images, laid out as image-layout.env says.
FROM builder AS layout
# copy_with_libs BINARY ROOTFS: the binary in /usr/local/bin plus the libraries ldd names.
RUN set -eu; \
    copy_with_libs() { \
        install -D -m 0755 "$1" "$2/usr/local/bin/$(basename "$1")"; \
        for lib in $(ldd "$1" | grep -oE '/[^ ]+'); do \
            [ -e "$2$lib" ] || install -D -m 0755 "$(readlink -f "$lib")" "$2$lib"; \
        done; \
    }; \
    for image in server operator; do \
        root=/rootfs/$image; \
        mkdir -p "$root/etc/ssl/certs" "$root/tmp" "$root/data"; \
        printf 'root:x:0:0:root:/root:/sbin/nologin\nshinydb:x:10001:10001:shinydb:/data:/sbin/nologin\n' >"$root/etc/passwd"; \
        printf 'root:x:0:\nshinydb:x:10001:\n' >"$root/etc/group"; \
        install -m 0644 /etc/ssl/certs/ca-certificates.crt "$root/etc/ssl/certs/ca-certificates.crt"; \
        chmod 1777 "$root/tmp"; \
        chmod 0750 "$root/data"; \
    done; \
    copy_with_libs target/release/shinydb-server /rootfs/server; \
    copy_with_libs target/release/shinydb /rootfs/server; \
    copy_with_libs target/release/shinydb-operator /rootfs/operator

# IMAGE_SERVER_*: shinydb/server
FROM scratch AS server
COPY --from=layout /rootfs/server/ /
COPY --from=layout --chown=10001:10001 /rootfs/server/data /data
USER 10001:10001
WORKDIR /data
VOLUME /data
ENV PATH=/usr/local/bin:/usr/bin:/bin
EXPOSE 23469 23470
ENTRYPOINT ["/usr/local/bin/shinydb-server"]

# IMAGE_OPERATOR_*: shinydb/operator
FROM scratch AS operator
COPY --from=layout /rootfs/operator/ /
COPY --from=layout --chown=10001:10001 /rootfs/operator/data /data
USER 10001:10001
WORKDIR /data
VOLUME /data
ENV PATH=/usr/local/bin:/usr/bin:/bin
EXPOSE 8080
ENTRYPOINT ["/usr/local/bin/shinydb-operator"]
