# syntax=docker/dockerfile:1
# The HoduPBX CRM bridge. Build: docker build -t hodupbx-crm-bridge .   Run: see docker-compose.yml.

# ---- build stage: every dependency, TypeScript compiled to dist/ ----------------------------------------
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# ---- runtime stage: production dependencies only, compiled code, the static agent page ------------------
FROM node:24-bookworm-slim AS runtime
ENV NODE_ENV=production PORT=3000 HOST=0.0.0.0
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
COPY public ./public
# Memory with a large phonebook (measured in docs/phonebook.md, "Memory"): an 8 MB young generation instead
# of V8's 16 MB semi-spaces (the bridge itself sets --heap-growing-percent=30, which Node refuses here);
# glibc malloc giving blocks of 128 KiB and up
# straight back to the OS when freed, in at most 2 arenas (the index's buffers and typed arrays are such blocks).
ENV NODE_OPTIONS="--max-semi-space-size=8" MALLOC_ARENA_MAX=2 MALLOC_MMAP_THRESHOLD_=131072 MALLOC_TRIM_THRESHOLD_=131072
# The files stay owned by root and read-only to the process; it runs as the image's unprivileged "node" user.
USER node
EXPOSE 3000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||3000)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# Exec form, no shell and no npm in between: node is PID 1 and gets SIGTERM itself, closes sockets with
# 1001 and exits within 10 s (docker-compose.yml gives it 12 s before SIGKILL).
STOPSIGNAL SIGTERM
CMD ["node", "dist/main.js"]
