"""Malformed HTTP, oversized headers and bodies, slow clients (connection
timeout) and floods (connections per client address)."""
import socket
import time

from wgtest import ServerTest, main


def raw(port, data, timeout=5):
    c = socket.create_connection(("127.0.0.1", port), timeout)
    try:
        c.sendall(data)
        out = b""
        while True:
            try:
                chunk = c.recv(65536)
            except socket.timeout:
                break
            if not chunk:
                break
            out += chunk
        return out
    finally:
        c.close()


class HardeningTest(ServerTest):
    CONFIG = ("server:\n  connection_timeout_s: 1\n"
              "  max_connections_per_ip: 8\n  max_header_bytes: 8KiB\n"
              "limits:\n  max_json_bytes: 2KiB\n")

    def test_malformed_requests(self):
        port = self.srv.port
        for req in (b"GARBAGE\r\n\r\n",
                    b"GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n",
                    b"GET /healthz HTTP/1.1\r\nBad Header Line\r\n\r\n",
                    b"GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: "
                    b"abc\r\n\r\n",
                    b"\x00\x01\x02\x03\r\n\r\n"):
            with self.subTest(req=req[:30]):
                out = raw(port, req)
                # an error answer, or (for what is not HTTP at all) a
                # closed connection
                if out:
                    self.assertRegex(out[:13], rb"^HTTP/1\.[01] (400|505) ")
        self.assertEqual(self.srv.get("/healthz").status, 200)

    def test_oversized_headers(self):
        req = (b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 +
               b"\r\n\r\n")
        out = raw(self.srv.port, req)
        self.assertRegex(out[:13], rb"^HTTP/1\.1 (413|431) ")
        self.assertEqual(self.srv.get("/healthz").status, 200)

    def test_oversized_body_declared_and_chunked(self):
        s = self.srv
        key = s.tenant("big")
        r = s.run(key, "sha256:" + "0" * 64, {"stdin": "x" * 3000})
        self.assertError(r, 413, "request_too_large",
                         "the request body (%d bytes) is larger than this "
                         "route's limit of 2048 bytes"
                         % len('{"stdin": "%s"}' % ("x" * 3000)))
        # chunked: the size is only known while reading
        body = b'{"stdin":"' + b"y" * 3000 + b'"}'
        req = (b"POST /v1/admin/tenants HTTP/1.1\r\nHost: x\r\n"
               b"Authorization: Bearer " + __import__("wgtest").ADMIN_KEY
               .encode() + b"\r\nContent-Type: application/json\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n" +
               b"%x\r\n" % len(body) + body + b"\r\n0\r\n\r\n")
        out = raw(s.port, req)
        self.assertTrue(out.startswith(b"HTTP/1.1 413"), out[:200])
        self.assertIn(b'"code":"request_too_large"', out)
        self.assertIn(b"x-request-id", out.lower())

    def test_slow_client_is_dropped(self):
        c = socket.create_connection(("127.0.0.1", self.srv.port), 10)
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")   # never finished
        t0 = time.monotonic()
        c.settimeout(10)
        try:
            data = c.recv(100)
        except ConnectionResetError:
            data = b""
        elapsed = time.monotonic() - t0
        c.close()
        self.assertEqual(data, b"")
        self.assertLess(elapsed, 5)

    def test_connections_per_address(self):
        # 12 connections from one address with a cap of 8: whichever get
        # in first are served (and kept open), the others are closed.
        port = self.srv.port
        socks = [socket.create_connection(("127.0.0.1", port), 5)
                 for _ in range(12)]
        served = refused = 0
        try:
            for c in socks:
                c.settimeout(3)
                try:
                    c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    data = c.recv(100)
                except (ConnectionResetError, BrokenPipeError):
                    data = b""
                if data.startswith(b"HTTP/1.1 200"):
                    served += 1
                else:
                    refused += 1
        finally:
            for c in socks:
                c.close()
        self.assertLessEqual(served, 8)
        self.assertGreaterEqual(refused, 4)
        time.sleep(0.3)
        self.assertEqual(self.srv.get("/healthz").status, 200)


class HardeningOnEngineTest(HardeningTest):
    # With models, the HTTP daemons run on the gateway's engine threads
    # (one daemon each, threads: 3 of them): the same limits must hold,
    # the per-address one across the daemons. The model is never called.
    CONFIG = (HardeningTest.CONFIG.replace("server:\n",
                                           "server:\n  threads: 3\n") +
              "models:\n  - name: m\n    base_url: http://127.0.0.1:9/v1\n")


if __name__ == "__main__":
    main()
