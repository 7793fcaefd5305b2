"""The browser client: a small accessible web app served by the API at ``/``.

Plain HTML, CSS and JavaScript modules in ``static/``, no build step and nothing from a CDN; it talks to
the same HTTP API as any other client (docs/web-client.md).
"""
