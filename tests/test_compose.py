"""The production stack's files, checked without Docker (none runs on the development machine):
docker-compose.yml, .env.example, the Dockerfile and .dockerignore, and the README's settings."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from settings import Settings

ROOT = Path(__file__).resolve().parent.parent
COMPOSE_TEXT = (ROOT / "docker-compose.yml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)
SERVICES: dict[str, dict] = COMPOSE["services"]
DOCKERFILE = (ROOT / "Dockerfile").read_text()
README = (ROOT / "README.md").read_text()

ENV_PREFIX = Settings.model_config["env_prefix"]
SETTINGS_VARIABLES = {f"{ENV_PREFIX}{name}".upper() for name in Settings.model_fields}

BUILT = {"migrate", "worker", "web"}
ONE_SHOTS = {"temporal-schema", "temporal-namespace", "migrate"}
LONG_RUNNING = set(SERVICES) - ONE_SHOTS
ADMIN_TOOLS = "temporalio/admin-tools"

# `${NAME}`, `${NAME:-default}`, `${NAME:?message}` or `$NAME`, but not `$${...}` / `$$NAME`,
# which Compose passes to the container's shell.
INTERPOLATION = re.compile(r"(?<!\$)\$(?:\{([A-Za-z_][A-Za-z0-9_]*)|([A-Za-z_][A-Za-z0-9_]*))")
# An explicit version: digits and a dot somewhere in the tag (16.15, 1.32.0, v1.31.2).
VERSION_TAG = re.compile(r"^v?\d+\.\d+[\w.-]*$")


def image_tag(image: str) -> tuple[str, str | None]:
    """An image reference split into its name and tag (None when it has no tag)."""
    name = image.partition("@")[0]
    last = name.rsplit("/", 1)[-1]
    if ":" not in last:
        return name, None
    repository, _, tag = name.rpartition(":")
    return repository, tag


def published_ports(service: dict) -> set[tuple[int, int]]:
    """The (host, container) port pairs a service publishes, from the short or long syntax."""
    pairs = set()
    for port in service.get("ports", []):
        if isinstance(port, dict):
            pairs.add((int(port["published"]), int(port["target"])))
        else:
            *_, host, container = str(port).split(":")
            pairs.add((int(host), int(container.split("/")[0])))
    return pairs


def environment(service: dict) -> dict[str, str]:
    """A service's environment as a mapping, whichever syntax the file uses."""
    env = service.get("environment", {})
    if isinstance(env, list):
        return dict(item.split("=", 1) for item in env)
    return {key: str(value) for key, value in env.items()}


def depends_on(name: str) -> dict[str, str]:
    """What a service waits for, service by service, as the condition it waits on."""
    return {other: spec["condition"] for other, spec in SERVICES[name].get("depends_on", {}).items()}


def env_example_names() -> list[str]:
    """The variables .env.example assigns, in order."""
    return re.findall(r"^([A-Za-z_][A-Za-z0-9_]*)=", (ROOT / ".env.example").read_text(), flags=re.MULTILINE)


def env_example_value(name: str) -> str:
    match = re.search(rf"^{name}=(.*)$", (ROOT / ".env.example").read_text(), flags=re.MULTILINE)
    assert match, f"{name} is not in .env.example"
    return match.group(1).strip().strip('"')


class TestServices:
    def test_every_service_of_the_stack_is_there(self):
        """The stack has the database, Temporal with its schema and namespace jobs, its UI, Mailpit and Assure's three."""
        expected = {
            "postgresql",
            "temporal-schema",
            "temporal",
            "temporal-namespace",
            "temporal-ui",
            "mailpit",
            "migrate",
            "worker",
            "web",
        }
        assert expected == set(SERVICES)

    def test_every_image_is_pinned_to_an_explicit_version(self):
        """Each `image:` names a version tag: no `latest`, no missing tag, no floating major."""
        for name, service in SERVICES.items():
            if "image" not in service:
                continue
            repository, tag = image_tag(service["image"])
            assert tag is not None, f"{name}: {service['image']} has no tag"
            assert VERSION_TAG.match(tag), f"{name}: {service['image']} is not an exact version"

    def test_official_images_are_used(self):
        """PostgreSQL, Temporal and Mailpit come from their official images."""
        expected = {
            "postgresql": "postgres",
            "temporal-schema": ADMIN_TOOLS,
            "temporal": "temporalio/server",
            "temporal-namespace": ADMIN_TOOLS,
            "temporal-ui": "temporalio/ui",
            "mailpit": "axllent/mailpit",
        }
        actual = {name: image_tag(SERVICES[name]["image"])[0] for name in expected}
        assert expected == actual

    def test_admin_tools_carry_the_servers_version(self):
        """The schema directories temporal-sql-tool applies are those of the server that runs on them."""
        server_version = image_tag(SERVICES["temporal"]["image"])[1]
        for name in ("temporal-schema", "temporal-namespace"):
            assert server_version == image_tag(SERVICES[name]["image"])[1]

    def test_assures_services_are_built_from_the_dockerfile(self):
        """migrate, worker and web build the repository's Dockerfile and pull nothing."""
        for name in BUILT:
            build = SERVICES[name]["build"]
            assert {"context": ".", "dockerfile": "Dockerfile"} == build
            assert "image" not in SERVICES[name]
        assert "image" not in COMPOSE.get("x-assure-build", {})

    def test_the_built_services_run_their_assure_command(self):
        """Each built service runs its own `assure` command."""
        expected = {
            "migrate": ["assure", "migrate"],
            "worker": ["assure", "worker"],
            "web": ["assure", "web", "--host", "0.0.0.0", "--port", "8000"],
        }
        assert expected == {name: SERVICES[name]["command"] for name in BUILT}


class TestPorts:
    def test_the_web_app_and_the_two_uis_are_published(self):
        """web on 8000, the Temporal UI on 8080 and Mailpit's web UI on 8025."""
        expected = {"web": {(8000, 8000)}, "temporal-ui": {(8080, 8080)}, "mailpit": {(8025, 8025)}}
        assert expected == {name: published_ports(SERVICES[name]) for name in expected}

    def test_nothing_else_is_published(self):
        """PostgreSQL, Temporal's frontend, SMTP and the worker are reached only inside the network."""
        for name in set(SERVICES) - {"web", "temporal-ui", "mailpit"}:
            assert set() == published_ports(SERVICES[name]), name

    def test_the_operator_uis_listen_on_the_host_only(self):
        """The Temporal UI and Mailpit have no sign-in, so they are bound to 127.0.0.1."""
        for name in ("temporal-ui", "mailpit"):
            for port in SERVICES[name]["ports"]:
                assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"

    def test_the_worker_can_be_scaled(self):
        """The worker has no container_name and no published port, so `--scale worker=3` works."""
        worker = SERVICES["worker"]
        assert "container_name" not in worker
        assert "ports" not in worker

    def test_no_service_fixes_its_container_name(self):
        """Container names come from the project, so two stacks (staging, production) can share a host."""
        assert [] == [name for name, service in SERVICES.items() if "container_name" in service]

    def test_the_worker_serves_metrics_inside_the_network(self):
        """The worker's Prometheus metrics listen on 9464 on every interface of its container."""
        worker = SERVICES["worker"]
        assert "0.0.0.0:9464" == environment(worker)["ASSURE_METRICS_ADDRESS"]
        assert ["9464"] == [str(port) for port in worker["expose"]]


class TestVolumes:
    def test_postgresql_keeps_its_data_in_a_named_volume(self):
        """The database lives in a declared named volume mounted at PostgreSQL's data directory."""
        assert "postgresql-data" in COMPOSE["volumes"]
        assert "postgresql-data:/var/lib/postgresql/data" in SERVICES["postgresql"]["volumes"]


class TestHealthAndRestarts:
    @pytest.mark.parametrize("name", ["postgresql", "temporal", "mailpit", "worker", "web"])
    def test_service_has_a_healthcheck(self, name):
        """Services others wait on, or that can hang while running, say whether they are healthy."""
        test = SERVICES[name]["healthcheck"]["test"]
        assert test[0] in {"CMD", "CMD-SHELL"}

    def test_postgresql_is_checked_with_pg_isready(self):
        """PostgreSQL is healthy when pg_isready gets an answer over TCP."""
        assert "pg_isready -h 127.0.0.1" in SERVICES["postgresql"]["healthcheck"]["test"][1]

    def test_the_web_app_is_checked_on_healthz(self):
        """The web app's check asks /healthz with Python's urllib (the slim image has no curl)."""
        test = SERVICES["web"]["healthcheck"]["test"]
        assert ["CMD", "python", "-c"] == test[:3]
        assert "urllib.request" in test[3] and "http://127.0.0.1:8000/healthz" in test[3]

    def test_the_worker_is_checked_on_its_metrics(self):
        """A worker whose metrics endpoint does not answer is unhealthy."""
        assert "http://127.0.0.1:9464/metrics" in SERVICES["worker"]["healthcheck"]["test"][3]

    @pytest.mark.parametrize("name", sorted(LONG_RUNNING))
    def test_long_running_service_restarts(self, name):
        """A long-running service comes back after a crash or a reboot of the host."""
        assert SERVICES[name]["restart"] in {"unless-stopped", "always"}

    @pytest.mark.parametrize("name", sorted(ONE_SHOTS))
    def test_one_shot_job_is_not_restarted(self, name):
        """A one-shot job runs once per `up`; a failure stops what depends on it, loudly."""
        assert "no" == SERVICES[name].get("restart", "no")

    def test_the_worker_stops_cleanly(self):
        """The worker runs under an init and stops on SIGINT, which asyncio turns into a clean shutdown."""
        worker = SERVICES["worker"]
        assert worker["init"] is True
        assert "SIGINT" == worker["stop_signal"]


class TestStartOrder:
    def test_the_schema_is_set_up_once_postgresql_is_healthy(self):
        """temporal-sql-tool runs when PostgreSQL answers."""
        assert {"postgresql": "service_healthy"} == depends_on("temporal-schema")

    def test_temporal_starts_after_its_schema_is_set_up(self):
        """The server starts only once the schema job has completed successfully."""
        assert {"temporal-schema": "service_completed_successfully"} == depends_on("temporal")

    def test_the_namespace_is_made_once_temporal_is_healthy(self):
        """The namespace job waits for a healthy server."""
        assert {"temporal": "service_healthy"} == depends_on("temporal-namespace")

    def test_migrate_waits_for_postgresql(self):
        """Assure's migrations run when PostgreSQL answers."""
        assert {"postgresql": "service_healthy"} == depends_on("migrate")

    @pytest.mark.parametrize("name", ["worker", "web"])
    def test_assure_starts_after_migrations_on_a_healthy_temporal(self, name):
        """The worker and the web app start on a migrated store, a healthy Temporal and an existing namespace."""
        expected = {
            "temporal": "service_healthy",
            "temporal-namespace": "service_completed_successfully",
            "migrate": "service_completed_successfully",
        }
        assert expected == depends_on(name)


class TestTemporal:
    def test_the_schema_job_uses_temporal_sql_tool(self):
        """Both databases are created, set up and updated with the postgres12 plugin from admin-tools' schema directories."""
        script = SERVICES["temporal-schema"]["command"][0]
        assert "temporal-sql-tool --plugin postgres12 --ep postgresql -p 5432" in script
        for database, directory in (("temporal", "temporal"), ("temporal_visibility", "visibility")):
            assert f"--db {database} create" in script
            assert f"--db {database} setup-schema -v 0.0" in script
            assert f"--db {database} update-schema -d $$schema/{directory}/versioned" in script
        assert "schema=/etc/temporal/schema/postgresql/v12" in script

    def test_the_server_is_configured_for_postgresql(self):
        """The server image renders its configuration from its documented variables."""
        env = environment(SERVICES["temporal"])
        expected = {
            "DB": "postgres12",
            "DB_PORT": "5432",
            "POSTGRES_SEEDS": "postgresql",
            "DBNAME": "temporal",
            "VISIBILITY_DBNAME": "temporal_visibility",
            "BIND_ON_IP": "0.0.0.0",
        }
        assert expected == {key: env[key] for key in expected}
        assert env["POSTGRES_USER"].startswith("${POSTGRES_USER")
        assert env["POSTGRES_PWD"].startswith("${POSTGRES_PASSWORD:?")

    def test_the_dynamic_config_file_is_the_one_mounted(self):
        """DYNAMIC_CONFIG_FILE_PATH names the file the stack mounts, which switches Workflow Updates on."""
        path = environment(SERVICES["temporal"])["DYNAMIC_CONFIG_FILE_PATH"]
        mounts = {mount["target"]: mount["source"] for mount in SERVICES["temporal"]["configs"]}
        content = yaml.safe_load(COMPOSE["configs"][mounts[path]]["content"])
        assert [{"value": True}] == content["frontend.enableUpdateWorkflowExecution"]

    def test_the_namespace_job_makes_assures_namespace(self):
        """The namespace Assure uses is the one the job creates and the UI opens."""
        namespace = "${ASSURE_TEMPORAL_NAMESPACE:-default}"
        assert namespace == environment(SERVICES["temporal-namespace"])["NAMESPACE"]
        assert namespace == environment(SERVICES["temporal-ui"])["TEMPORAL_DEFAULT_NAMESPACE"]
        assert namespace == COMPOSE["x-assure-environment"]["ASSURE_TEMPORAL_NAMESPACE"]
        script = SERVICES["temporal-namespace"]["command"][0]
        assert "temporal operator cluster health" in script
        assert 'temporal operator namespace create -n "$$NAMESPACE"' in script

    def test_the_ui_points_at_the_server(self):
        """The Temporal UI talks to the server's frontend inside the network."""
        assert "temporal:7233" == environment(SERVICES["temporal-ui"])["TEMPORAL_ADDRESS"]


class TestAssureEnvironment:
    @pytest.mark.parametrize("name", sorted(BUILT))
    def test_every_assure_variable_is_a_setting(self, name):
        """Each ASSURE_* variable a service sets is a field of settings.Settings (a typo would be ignored)."""
        names = {key for key in environment(SERVICES[name]) if key.startswith("ASSURE_")}
        assert set() == names - SETTINGS_VARIABLES

    def test_every_assure_variable_in_the_file_is_a_setting(self):
        """No ASSURE_* name anywhere in the file, interpolated or set, falls outside Settings."""
        names = set(re.findall(r"\bASSURE_[A-Z0-9_]+", COMPOSE_TEXT))
        assert set() == names - SETTINGS_VARIABLES

    @pytest.mark.parametrize("name", sorted(BUILT))
    def test_the_stack_sets_what_assure_needs(self, name):
        """Each of Assure's services gets the database, Temporal, mail, links and JSON logs of the stack."""
        env = environment(SERVICES[name])
        assert env["ASSURE_DATABASE_URL"].startswith("postgresql+psycopg://")
        assert env["ASSURE_DATABASE_URL"].endswith("@postgresql:5432/assure")
        assert "temporal:7233" == env["ASSURE_TEMPORAL_ADDRESS"]
        assert "${ASSURE_SMTP_HOST:-mailpit}" == env["ASSURE_SMTP_HOST"]
        assert "${ASSURE_SMTP_PORT:-1025}" == env["ASSURE_SMTP_PORT"]
        assert "json" == env["ASSURE_LOG_FORMAT"]
        for required in ("ASSURE_SECRET_KEY", "ASSURE_BASE_URL", "ASSURE_MAIL_FROM"):
            assert env[required].startswith(f"${{{required}:?"), f"{required} must be required"

    def test_the_three_share_one_environment(self):
        """migrate, worker and web take the same x-assure-environment block."""
        shared = COMPOSE["x-assure-environment"]
        for name in BUILT:
            env = environment(SERVICES[name])
            assert shared == {key: env[key] for key in shared}

    def test_the_database_password_is_required(self):
        """The stack refuses to start without a PostgreSQL password rather than use a default."""
        url = COMPOSE["x-assure-environment"]["ASSURE_DATABASE_URL"]
        assert "${POSTGRES_PASSWORD:?" in url
        assert environment(SERVICES["postgresql"])["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


class TestEnvExample:
    def test_every_interpolated_variable_is_in_env_example(self):
        """Each ${VAR} the compose file reads is listed in .env.example."""
        interpolated = {a or b for a, b in INTERPOLATION.findall(COMPOSE_TEXT)}
        assert set() == interpolated - set(env_example_names())

    def test_env_example_lists_only_what_the_compose_file_reads(self):
        """.env.example has nothing the stack ignores, and each variable once."""
        interpolated = {a or b for a, b in INTERPOLATION.findall(COMPOSE_TEXT)}
        names = env_example_names()
        assert sorted(set(names)) == sorted(names)
        assert set() == set(names) - interpolated

    def test_every_variable_has_a_comment(self):
        """Each assignment in .env.example follows a comment line that says what it is."""
        lines = (ROOT / ".env.example").read_text().splitlines()
        for index, line in enumerate(lines):
            if re.match(r"^[A-Za-z_]\w*=", line):
                previous = lines[index - 1]
                assert previous.startswith("#") or re.match(r"^[A-Za-z_]\w*=", previous), line
        first = next(i for i, line in enumerate(lines) if re.match(r"^[A-Za-z_]\w*=", line))
        assert lines[first - 1].startswith("#")

    @pytest.mark.parametrize("name", ["POSTGRES_PASSWORD", "ASSURE_SECRET_KEY"])
    def test_secrets_are_placeholders(self, name):
        """The example's secrets are obvious placeholders, never usable values."""
        assert env_example_value(name).startswith("change-me")

    def test_it_says_how_to_make_a_key(self):
        """The example gives the command that makes a key."""
        text = (ROOT / ".env.example").read_text()
        assert "python -c 'import secrets; print(secrets.token_urlsafe(48))'" in text

    def test_the_example_values_are_valid_settings(self):
        """The example's Assure values pass Settings' own validation, once its secret key is replaced."""
        values = {
            name.removeprefix(ENV_PREFIX).lower(): env_example_value(name)
            for name in env_example_names()
            if name.startswith(ENV_PREFIX)
        }
        settings = Settings(_env_file=None, **values | {"secret_key": "a-real-key-" + "x" * 40})
        assert "https://assure.example.org" == settings.base_url
        assert ["172.16.0.0/12"] == settings.trusted_proxies

    def test_the_example_secret_key_stops_start_up(self):
        """Left as it is, the example's placeholder secret key is refused, naming the variable."""
        with pytest.raises(ValidationError, match="ASSURE_SECRET_KEY is still the placeholder"):
            Settings(_env_file=None, secret_key=env_example_value("ASSURE_SECRET_KEY"))

    def test_the_web_app_trusts_only_the_configured_proxy(self):
        """The web service takes ASSURE_TRUSTED_PROXIES from .env, required; the worker does not need it."""
        assert environment(SERVICES["web"])["ASSURE_TRUSTED_PROXIES"].startswith("${ASSURE_TRUSTED_PROXIES:?")
        assert "ASSURE_TRUSTED_PROXIES" not in COMPOSE["x-assure-environment"]


class TestDockerfile:
    def test_every_base_image_is_pinned(self):
        """Each FROM names an exact version tag."""
        images = re.findall(r"^FROM\s+(\S+)", DOCKERFILE, flags=re.MULTILINE)
        assert 2 == len(images)
        for image in images:
            _, tag = image_tag(image)
            assert tag is not None and VERSION_TAG.match(tag), image

    def test_node_builds_the_assets_and_python_runs_the_app(self):
        """A pinned Node stage builds the styles; the final stage is Python 3.11 slim on bookworm."""
        images = re.findall(r"^FROM\s+(\S+)", DOCKERFILE, flags=re.MULTILINE)
        assert images[0].startswith("node:22.") and images[0].endswith("-bookworm-slim")
        assert images[1].startswith("python:3.11.") and images[1].endswith("-slim-bookworm")
        assert "RUN npm ci" in DOCKERFILE and "npm run --silent build" in DOCKERFILE

    def test_the_app_is_installed_editable_with_its_assets_beside_it(self):
        """The source is in /app, installed editable, with node_modules' assets and the built CSS where web/context.py looks."""
        assert "WORKDIR /app" in DOCKERFILE
        assert "RUN pip install --no-cache-dir -e ." in DOCKERFILE
        for path in ("node_modules/govuk-frontend/dist", "node_modules/swagger-ui-dist", "web/static/build"):
            assert f"COPY --from=assets /src/{path} /app/{path}" in DOCKERFILE

    def test_it_runs_as_a_user_with_a_writable_state_directory(self):
        """The app runs as a non-root user who owns ASSURE_STATE_DIR and nothing else."""
        users = re.findall(r"^USER\s+(\S+)", DOCKERFILE, flags=re.MULTILINE)
        assert ["assure"] == users
        assert "ASSURE_STATE_DIR=/app/state" in DOCKERFILE
        assert "chown assure:assure /app/state" in DOCKERFILE

    def test_secrets_and_local_state_stay_out_of_the_build(self):
        """.dockerignore keeps .env, the virtual environment, node_modules and .git out of the image."""
        ignored = (ROOT / ".dockerignore").read_text().splitlines()
        for entry in (".env", ".env.*", ".venv", "node_modules", ".git", ".assure"):
            assert entry in ignored


class TestReadme:
    def test_every_setting_is_documented(self):
        """Each Settings field appears in the README as its ASSURE_ variable."""
        assert [] == sorted(name for name in SETTINGS_VARIABLES if name not in README)

    def test_the_production_stack_section_comes_before_tests(self):
        """The README's Production stack section sits just before its Tests section."""
        headings = re.findall(r"^## (.+)$", README, flags=re.MULTILINE)
        assert headings.index("Production stack") + 1 == headings.index("Tests")

    def test_the_readme_names_every_pinned_image(self):
        """Each pinned image of the stack is named in the README, so a bump updates both."""
        section = README.split("## Production stack", 1)[1].split("\n## ", 1)[0]
        images = {service["image"] for service in SERVICES.values() if "image" in service}
        images |= set(re.findall(r"^FROM\s+(\S+)", DOCKERFILE, flags=re.MULTILINE))
        assert [] == sorted(image for image in images if image not in section)
