"""A tiny HTTP server on 127.0.0.1:<free port> for stand-ins (identity provider, static pages)."""

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# path -> (content type, body), or None for 404
Answer = Callable[[str], tuple[str, bytes] | None]


def start_server(answer: Answer) -> ThreadingHTTPServer:
    """Serves GET requests in a daemon thread; stop with .shutdown() and .server_close()."""
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the http.server interface)
            found = answer(self.path)
            if found is None:
                self.send_error(404)
                return
            content_type, payload = found
            self.send_response(200)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
