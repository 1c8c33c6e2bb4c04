// The interactive API documentation (/api/docs/): Swagger UI, vendored under
// static/vendor/swagger-ui/, reading the schema the page names. Requests made from the page
// carry the session cookie; unsafe methods also need the page's CSRF token, which Django asks
// for whenever a request is authenticated by the session.
window.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  window.SwaggerUIBundle({
    url: root.dataset.schemaUrl,
    domNode: root,
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    requestInterceptor: (request) => {
      request.headers["X-CSRFToken"] = root.dataset.csrfToken;
      return request;
    },
  });
});
