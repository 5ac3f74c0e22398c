# The operator's image (`make image`; README "The image", docs/adr/0018-operator-image.md).
#
# Built with the dev dependencies, run with the production ones only, on the Node.js 24 LTS that
# hack/node-versions pins (a unit test keeps NODE_IMAGE's default on it). The final stage starts FROM scratch:
# the node binary, the shared libraries it loads, the compiled operator and its production node_modules —
# no shell, no package manager, no npm/npx/corepack. It runs as 65532:65532 and writes nothing to its root
# filesystem, so it runs with a read-only one.
#
# NODE_IMAGE: the official Node image where it can be pulled, or the one hack/node-base-image.sh builds from
# Debian's packages and the npm registry's Node binary (same layout, same version).
# `npm ci` reaches the registry this host's npm uses: `make image` hands its npm configuration (registry, and
# the CA bundle npm trusts) to the build as BuildKit secrets, which are mounted for that one command and are in
# no layer. Without them npm uses its defaults.
ARG NODE_IMAGE=node:24.22.3-bookworm-slim

FROM ${NODE_IMAGE} AS build
WORKDIR /src
COPY package.json package-lock.json .npmrc ./
RUN --mount=type=secret,id=npmrc,required=false --mount=type=secret,id=npm_ca,required=false \
    --mount=type=cache,id=gitlab-flux-link-npm,target=/root/.npm,sharing=locked \
    NPM_CONFIG_USERCONFIG=/run/secrets/npmrc npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.image.json ./
COPY operator ./operator
RUN npx tsc -p tsconfig.image.json

FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN --mount=type=secret,id=npmrc,required=false --mount=type=secret,id=npm_ca,required=false \
    --mount=type=cache,id=gitlab-flux-link-npm,target=/root/.npm,sharing=locked \
    NPM_CONFIG_USERCONFIG=/run/secrets/npmrc npm ci --omit=dev --no-audit --no-fund

# node, every shared library it loads (as ldd lists them, at the same paths), the name service switch, and a
# passwd/group that name the non-root user.
FROM ${NODE_IMAGE} AS runtime-files
RUN set -eu; \
    mkdir -p /rootfs/usr/local/bin /rootfs/etc; \
    cp /usr/local/bin/node /rootfs/usr/local/bin/node; \
    for lib in $(ldd /usr/local/bin/node | grep -o '/[^ ]*'); do cp -L --parents "$lib" /rootfs; done; \
    cp /etc/nsswitch.conf /rootfs/etc/; \
    echo 'nonroot:x:65532:65532:nonroot:/nonexistent:/usr/sbin/nologin' >/rootfs/etc/passwd; \
    echo 'nonroot:x:65532:' >/rootfs/etc/group

FROM scratch
COPY --from=runtime-files /rootfs/ /
ENV PATH=/usr/local/bin NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist/operator ./dist/operator
COPY package.json LICENSE ./
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/node", "dist/operator/main.js"]
