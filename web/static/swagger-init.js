// Starts Swagger UI on /docs (web/docs.py). An external file, not an inline script, because the
// Content-Security-Policy allows no inline script. validatorUrl null: no badge that asks
// validator.swagger.io about our schema, so the page fetches nothing from anywhere else.
window.ui = SwaggerUIBundle({
  url: "/openapi.json",
  dom_id: "#swagger-ui",
  validatorUrl: null,
});
