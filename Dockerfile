# tailsift image: `docker build -t tailsift .`, then `docker run tailsift run --config FILE`.

FROM node:20-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: the prepare script would compile before the sources are copied in; the
# only dependency install script (protobufjs) just prints version-scheme warnings.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build \
 # tsc emits only JavaScript; files the code reads at run time (Lua scripts, templates) are
 # copied next to the compiled modules that load them.
 && (cd src && find . -type f ! -name '*.ts' -exec cp --parents {} ../dist/src/ \;)

FROM node:20-slim AS runtime
ENV NODE_ENV=production
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist/src ./dist/src
COPY bin ./bin
COPY policies ./policies
# data/ is where the default file sink writes; it must belong to the user the engine runs as.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
# 4318: OTLP/HTTP receiver; 9464: admin (/metrics /healthz /readyz).
EXPOSE 4318 9464
ENTRYPOINT ["node", "bin/tailsift.js"]
CMD ["run"]
