"""GET /docs: Swagger UI from the pinned swagger-ui-dist npm package, under the
Content-Security-Policy (no inline script, nothing from another origin), and a plain page
pointing at /openapi.json when npm never ran."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from models.lifecycle import DECISION_INPUTS
from web import docs
from web.app import create_app
from web.context import PROJECT_ROOT
from web.security import CONTENT_SECURITY_POLICY

installed = pytest.mark.skipif(
    not docs.SWAGGER_UI_DIST.is_dir(), reason="swagger-ui-dist is not installed (npm missing): `make` installs it"
)
SCRIPT = re.compile(r"(?is)<script\b([^>]*)>(.*?)</script>")


@pytest.fixture
async def web(settings):
    app = create_app(settings)  # no Temporal needed for these pages
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as client:
        yield client


def directives(policy: str) -> dict[str, str]:
    """A Content-Security-Policy header as {directive: sources}."""
    pairs = (part.strip().split(" ", 1) for part in policy.split(";") if part.strip())
    return {pair[0]: pair[1] if len(pair) > 1 else "" for pair in pairs}


class TestPinnedPackage:
    def test_swagger_ui_dist_is_pinned_to_one_exact_version(self):
        """package.json names an exact version of swagger-ui-dist and the lock file resolves that one."""
        package = json.loads((PROJECT_ROOT / "package.json").read_text())
        lock = json.loads((PROJECT_ROOT / "package-lock.json").read_text())
        pinned = package["dependencies"]["swagger-ui-dist"]
        assert re.fullmatch(r"\d+\.\d+\.\d+", pinned), pinned
        assert pinned == lock["packages"]["node_modules/swagger-ui-dist"]["version"]


@installed
class TestSwaggerUiPage:
    async def test_docs_loads_swagger_ui_from_this_server(self, web):
        """/docs is an HTML page whose styles and scripts are all files on this server."""
        page = await web.get("/docs")
        assert 200 == page.status_code
        assert page.headers["content-type"].startswith("text/html")
        assert '<link rel="stylesheet" href="/assets/swagger-ui/swagger-ui.css">' in page.text
        scripts = SCRIPT.findall(page.text)
        expected = [' src="/assets/swagger-ui/swagger-ui-bundle.js"', ' src="/static/swagger-init.js"']
        assert expected == [attributes for attributes, _ in scripts]
        assert ["", ""] == [body.strip() for _, body in scripts]  # no inline script
        assert "://" not in page.text  # nothing loaded from anywhere else

    async def test_swagger_ui_files_are_served(self, web):
        """The stylesheet, the bundle and our starter script are served from this server."""
        css = await web.get("/assets/swagger-ui/swagger-ui.css")
        assert 200 == css.status_code and ".swagger-ui" in css.text
        bundle = await web.get("/assets/swagger-ui/swagger-ui-bundle.js")
        assert 200 == bundle.status_code and "SwaggerUIBundle" in bundle.text
        starter = await web.get("/static/swagger-init.js")
        assert 200 == starter.status_code
        assert 'url: "/openapi.json"' in starter.text and 'dom_id: "#swagger-ui"' in starter.text

    async def test_docs_is_not_part_of_the_api_description(self, web):
        """The page describes the API; /openapi.json does not list it as an operation."""
        schema = (await web.get("/openapi.json")).json()
        assert "/docs" not in schema["paths"]


class TestApiDescription:
    async def test_each_decision_has_its_own_body_schema_without_by(self, web):
        """Every decision is one operation whose request body is its payload's schema, less ``by``."""
        schema = (await web.get("/openapi.json")).json()
        components = schema["components"]["schemas"]
        for name, payload in DECISION_INPUTS.items():
            operation = schema["paths"][f"/api/recommendations/{{ref}}/decisions/{name}"]["post"]
            body = operation["requestBody"]["content"]["application/json"]["schema"]
            shown = components[body["$ref"].rsplit("/", 1)[-1]]
            assert set(payload.model_fields) - {"by"} == set(shown["properties"]), name
            assert False is shown["additionalProperties"], name  # ``by`` included: refused
            required = {f for f, info in payload.model_fields.items() if info.is_required() and f != "by"}
            assert required == set(shown.get("required", [])), name
        assert "/api/recommendations/{ref}/decisions/{decision}" not in schema["paths"]

    async def test_no_operation_is_listed_twice(self, web):
        """Swagger UI lists an operation once per tag: every one has one tag and its own id."""
        schema = (await web.get("/openapi.json")).json()
        operations = [op for methods in schema["paths"].values() for op in methods.values()]
        assert [] == [op["operationId"] for op in operations if len(op.get("tags", [])) != 1]
        ids = [op["operationId"] for op in operations]
        assert len(ids) == len(set(ids))
        summaries = [(op["tags"][0], op["summary"]) for op in operations]
        assert len(summaries) == len(set(summaries))


class TestContentSecurityPolicy:
    async def test_docs_allows_no_inline_or_outside_script(self, web):
        """/docs may call this server's API, but its scripts still come only from this server."""
        policy = directives((await web.get("/docs")).headers["content-security-policy"])
        assert "'self'" == policy["script-src"]
        assert "'self'" == policy["connect-src"]
        assert "'none'" == policy["default-src"]
        assert "'unsafe-" not in " ".join(policy.values())

    @pytest.mark.parametrize("path", ["/", "/openapi.json", "/assets/swagger-ui/swagger-ui.css", "/docs/"])
    async def test_other_paths_keep_the_strict_policy(self, web, path):
        """Every other path, the Swagger UI files included, has the strict policy, without connect-src."""
        response = await web.get(path)
        assert CONTENT_SECURITY_POLICY == response.headers["content-security-policy"]
        assert "connect-src" not in directives(CONTENT_SECURITY_POLICY)


class TestWithoutNpm:
    async def test_docs_points_at_the_api_description(self, settings, monkeypatch, tmp_path):
        """Without swagger-ui-dist, /docs is still 200: a plain page linking to /openapi.json."""
        monkeypatch.setattr(docs, "SWAGGER_UI_DIST", tmp_path / "missing")
        app = create_app(settings)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as web:
            page = await web.get("/docs")
            assert 200 == page.status_code
            assert '<a href="/openapi.json">/openapi.json</a>' in page.text
            assert "<script" not in page.text and "stylesheet" not in page.text
            assert 404 == (await web.get("/assets/swagger-ui/swagger-ui.css")).status_code
