# The platform on the official Deno image, run as the image's non-root `deno` user with the
# same start command as `deno task start`. Configure it with environment variables (README).
ARG DENO_VERSION=2.9.6
FROM denoland/deno:${DENO_VERSION}

WORKDIR /app
RUN mkdir -p /data && chown deno:deno /data /app
USER deno

# Dependencies first, so code changes do not refetch them.
COPY --chown=deno:deno deno.json deno.lock ./
COPY --chown=deno:deno main.ts ./
COPY --chown=deno:deno runtime/ runtime/
COPY --chown=deno:deno routes/ routes/
COPY --chown=deno:deno studio/ studio/
RUN deno cache main.ts runtime/sandbox/child/main.ts runtime/deploy/compiler/child.ts

ENV PORT=8000 HOST=0.0.0.0 DATA_DIR=/data
EXPOSE 8000
VOLUME ["/data"]
HEALTHCHECK --interval=10s --timeout=3s \
  CMD ["deno", "eval", "const r = await fetch('http://127.0.0.1:8000/healthz'); Deno.exit(r.ok ? 0 : 1)"]
CMD ["task", "start"]
