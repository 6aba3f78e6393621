# Assure's image: the worker, the web app and the migrate job (docker-compose.yml picks the
# command). Two stages: Node builds the GOV.UK Frontend styles from package-lock.json, then the
# Python stage keeps only what the app serves from node_modules, never Node itself.

# The GOV.UK Frontend styles (web/static/build/assure.css), the govuk-frontend assets and
# swagger-ui-dist, from the versions pinned in package-lock.json.
FROM node:22.22.3-bookworm-slim AS assets
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund --loglevel=error
COPY web/static/src web/static/src
RUN npm run --silent build

FROM python:3.11.17-slim-bookworm
# ASSURE_STATE_DIR: where `assure` keeps local state (the stack sets ASSURE_SECRET_KEY and a
# PostgreSQL URL, so nothing is written there in normal running); the one place the app may write.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    ASSURE_STATE_DIR=/app/state
RUN groupadd --system --gid 10001 assure \
    && useradd --system --uid 10001 --gid assure --home-dir /app/state --no-create-home \
       --shell /usr/sbin/nologin assure
WORKDIR /app

# The dependencies first, in their own layer, so a change to the code does not reinstall them.
COPY pyproject.toml ./
RUN python -c "import tomllib; print('\n'.join(tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']))" \
        > /tmp/requirements.txt \
    && pip install --no-cache-dir -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

# Editable: the app finds templates/, examples/, migrations/, web/static and node_modules beside
# its modules (web/context.py PROJECT_ROOT), so it runs from this source tree.
COPY . .
RUN pip install --no-cache-dir -e .
COPY --from=assets /src/node_modules/govuk-frontend/dist /app/node_modules/govuk-frontend/dist
COPY --from=assets /src/node_modules/swagger-ui-dist /app/node_modules/swagger-ui-dist
COPY --from=assets /src/web/static/build /app/web/static/build

# The source stays root's and read-only to the app; only the state directory is the app's.
RUN mkdir -p /app/state && chown assure:assure /app/state
USER assure

# 8000: `assure web --port 8000`; 9464: the worker's Prometheus metrics.
EXPOSE 8000 9464
CMD ["assure", "web", "--host", "0.0.0.0", "--port", "8000"]
