# The platform on the official Deno image, run as the image's non-root `deno` user (uid 1993)
# with the same command as `deno task start`. Configure it with environment variables (README).
#
# BASE_IMAGE is for builds that cannot pull the official image (the container test builds a
# local stand-in and passes it here); DENO_CERT names a CA bundle for `deno cache` when the
# package registry is reached through a TLS proxy (mount the bundle into the build). Both are
# unset for ordinary builds.
ARG DENO_VERSION=2.9.6
ARG BASE_IMAGE=denoland/deno:${DENO_VERSION}
FROM ${BASE_IMAGE}
ARG DENO_CERT=

WORKDIR /app
RUN mkdir -p /data && chown deno:deno /data /app
USER deno

# Dependencies first, so code changes do not refetch them.
COPY --chown=deno:deno deno.json deno.lock ./
COPY --chown=deno:deno main.ts ./
COPY --chown=deno:deno runtime/ runtime/
COPY --chown=deno:deno routes/ routes/
COPY --chown=deno:deno studio/ studio/
# studio/main.ts brings the Studio's npm packages, which `deno bundle` reads from the cache.
RUN if [ -z "$DENO_CERT" ]; then unset DENO_CERT; fi; \
  deno cache main.ts runtime/sandbox/child/main.ts runtime/deploy/compiler/child.ts studio/main.ts

ENV PORT=8000 HOST=0.0.0.0 DATA_DIR=/data
EXPOSE 8000
VOLUME ["/data"]
# On the configured PORT, whatever it is.
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s \
  CMD ["deno", "eval", "const r = await fetch(`http://127.0.0.1:${Deno.env.get('PORT')}/healthz`); Deno.exit(r.ok ? 0 : 1)"]
# `deno task start`'s command, run directly so the server is PID 1 and gets SIGTERM itself: it
# stops accepting, finishes running requests and closes its stores.
CMD ["deno", "run", "-A", "main.ts"]
