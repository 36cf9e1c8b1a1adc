# One image for every process of the control plane; docker-compose.yml picks the command:
#   API (default)      npx tsx src/server.ts
#   worker             npx tsx src/worker.ts
#   migrate (one-shot) npx tsx src/db/migrate-cli.ts
#   device simulator   npx tsx simulators/devices/main.ts
# The processes run TypeScript through tsx (as `npm run api|worker|migrate` do), so there is no
# build step; configuration comes only from the environment (src/config.ts).
FROM node:20-bookworm-slim

WORKDIR /app

# `npm install`, not `npm ci`: the lock omits other platforms' optional binaries that the
# registry lacks, and npm ci refuses such a lock (see the first commit). npm install honours it.
# --ignore-scripts: nothing here may depend on a postinstall step (Prisma's would download
# engines we do not use: the client runs on the pg driver adapter).
COPY package.json package-lock.json ./
RUN npm install --ignore-scripts --no-audit --no-fund \
 && npm cache clean --force

COPY tsconfig.json prisma.config.ts ./
COPY prisma ./prisma
COPY src ./src
COPY simulators ./simulators

# The generated client (src/generated/prisma) is not in git: generate it here, after the
# sources are copied so a stale local copy cannot win. PRISMA_SCHEMA_ENGINE_BINARY points at any
# existing file, so `generate` skips downloading a schema engine it does not need.
RUN PRISMA_SCHEMA_ENGINE_BINARY=/bin/true npx prisma generate \
 && test -f src/generated/prisma/client.ts

ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080
USER node
EXPOSE 8080
CMD ["npx", "tsx", "src/server.ts"]
