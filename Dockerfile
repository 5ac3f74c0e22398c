# Multi-stage image: build with the dev dependencies, run with production dependencies only, as a non-root
# user, on the Node.js 24 LTS that hack/node-versions pins (a unit test keeps the tags equal to it).
# (Not built on this project's development machines: they have no Docker engine.)
FROM node:24.22.3-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY operator ./operator
COPY e2e ./e2e
RUN npx tsc -p tsconfig.json

FROM node:24.22.3-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund

FROM node:24.22.3-bookworm-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=deps /app/node_modules ./node_modules
COPY --from=build /src/dist/operator ./dist/operator
COPY package.json ./
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["node", "dist/operator/main.js"]
