"use strict";
// Starts Swagger UI on the API docs page; a file of its own, so the page's CSP needs no inline script.
(function () {
  const specUrl = document.currentScript.dataset.specUrl;
  window.addEventListener("load", function () {
    window.ui = SwaggerUIBundle({
      url: specUrl,
      dom_id: "#swagger-ui",
      deepLinking: true,
      showExtensions: true,
      showCommonExtensions: true,
      validatorUrl: null, // the default badge loads an image from validator.swagger.io
      presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    });
  });
})();
