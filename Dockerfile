FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1

WORKDIR /app
COPY pyproject.toml README.md ./
RUN pip install .
COPY . .
# Static files are collected at build time and served by whitenoise under gunicorn.
RUN SECRET_KEY=build-only DATABASE_URL=postgres://build@localhost/build \
    python manage.py collectstatic --noinput --verbosity 0

RUN useradd --system --uid 10001 catalog
USER catalog
EXPOSE 8000
# gunicorn (through config.serve) on config.wsgi with the shipped gunicorn.conf.py, as `make run`
# starts it (workers, timeouts, proxy trust from the environment: README, "Configuration").
# Migrations are not run here, where every replica would run them at once: once per deployment,
# by `python manage.py migrate --noinput` in this image before the app starts
# (docker-compose.yml's `migrate` service).
CMD ["python", "-m", "config.serve", "-c", "gunicorn.conf.py", "config.wsgi", "--bind", "0.0.0.0:8000"]
