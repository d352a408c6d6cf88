# chainwatch stream service: `node bin/chainwatch.js run`, configured by CHAINWATCH_* variables
# (see docs/operations-local.md and deploy/docker-compose.yml).

FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would build before the sources are copied; the build runs below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build && npm prune --omit=dev --ignore-scripts

FROM node:20-slim
# A larger young generation: see "Performance" in docs/operations.md.
ENV NODE_ENV=production \
    NODE_OPTIONS=--max-semi-space-size=64 \
    CHAINWATCH_HTTP_HOST=0.0.0.0 \
    CHAINWATCH_HTTP_PORT=9464
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY bin ./bin
# The built-in pattern library and taxonomy (the default of CHAINWATCH_PATTERNS / CHAINWATCH_TAXONOMY).
COPY patterns ./patterns
COPY schemas ./schemas
USER node
EXPOSE 9464
HEALTHCHECK --interval=10s --timeout=5s --start-period=20s --retries=6 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:9464/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# SIGTERM goes straight to node (no shell in between): the service finishes its batch, commits, exits.
CMD ["node", "bin/chainwatch.js", "run"]
