# Siegel gateway image: build with the dev toolchain, run on a slim base as
# a non-root user. Mount the config at /etc/siegel and the data dir as a
# volume; listeners must bind 0.0.0.0 inside the container (see README).
FROM node:24-slim AS build
WORKDIR /app
COPY package.json package-lock.json tsconfig.json tsconfig.build.json ./
COPY src src
COPY bin bin
COPY scripts/copy-web-assets.mjs scripts/
RUN npm ci && npm run build

FROM node:24-slim
ENV NODE_ENV=production \
    SIEGEL_CONFIG=/etc/siegel/siegel.yaml
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts && npm cache clean --force
COPY --from=build /app/dist dist
COPY bin bin
COPY certs certs
RUN mkdir -p /var/lib/siegel && chown node:node /var/lib/siegel
USER node
VOLUME ["/var/lib/siegel"]
EXPOSE 10587 10025 8080
HEALTHCHECK --interval=30s --timeout=10s --start-period=20s --retries=3 \
  CMD ["node", "bin/siegel.js", "health"]
ENTRYPOINT ["node", "--max-semi-space-size=1", "--expose-gc", "bin/siegel.js"]
CMD ["serve"]
