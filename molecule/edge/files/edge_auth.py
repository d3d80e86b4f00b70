"""The forward-auth endpoint of the e2e tests (auth_request, as oauth2-proxy's
/oauth2/auth answers it): a browser whose cookie edge_test_user names a user
is signed in as that user, anyone else gets 401. /signin stands for the
provider's sign-in page and shows where it would send the browser back."""

import http.cookies
import http.server
import sys
from urllib.parse import parse_qs, urlsplit


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - the name http.server calls
        url = urlsplit(self.path)
        if url.path == "/auth":
            user = http.cookies.SimpleCookie(self.headers.get("Cookie", "")).get("edge_test_user")
            if user is not None and user.value:
                self.send_response(202)
                self.send_header("X-Auth-Request-User", user.value)
                self.send_header("X-Auth-Request-Email", f"{user.value}@example.test")
                self.send_header("X-Auth-Request-Groups", "staff")
            else:
                self.send_response(401)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if url.path == "/signin":
            body = f"Sign in, then back to {parse_qs(url.query).get('rd', [''])[0]}\n".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()


if __name__ == "__main__":
    http.server.ThreadingHTTPServer(("", int(sys.argv[1])), Handler).serve_forever()
