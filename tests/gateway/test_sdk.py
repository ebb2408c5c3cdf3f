"""The official OpenAI SDK (npm openai 6.49.0, tests/gateway/node) against
the gateway: starts the fake upstream and wasmgate, creates the tenants,
then runs node/sdk_test.mjs with BASE_URL, API_KEY, LIMITED_KEY and
TINY_KEY (a tenant with 50 gateway tokens per minute and per day).
The fake upstream also injects faults (hang, 500s, a stream cut, bad
JSON for response_format): the SDK must see the documented error classes.
Exits 77 (skipped) when node or the installed SDK is missing; run
tools/setup.sh to install it."""
import os
import shutil
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integration"))
from wgtest import Server  # noqa: E402
from fake_upstream import Fake  # noqa: E402

NODE_DIR = os.path.join(HERE, "node")
# A pattern that backtracks past PCRE2's match limit on "aaa...X": the
# redaction fails (closed), which is the gateway's own 500.
BOMB = "(a|aa)+$"
MODELS = [
    ("m-ok", "ok", {}),
    ("m-stream", "stream", {}),
    ("m-429", "e429", {"max_retries": 0}),
    ("m-503", "e503", {"max_retries": 0}),
    ("m-bomb", "say:" + "a" * 40 + "X", {}),
    # Upstream faults: a hang past the first-byte timeout, 500s past the
    # retries, a stream cut mid-way, answers that never satisfy
    # response_format.
    ("m-hang", "hang", {"first_byte_timeout_ms": 300, "max_retries": 0}),
    ("m-500", "e500", {"max_retries": 1}),
    ("m-drop", "drop", {}),
    ("m-notjson", "say:notjson", {}),
]


def config(fake):
    out = fake.models_yaml(MODELS)
    out += ["gateway:",
            "  breaker:",
            "    consecutive_failures: 1",
            "    cooldown_ms: 60000",
            "  guard:",
            "    patterns:",
            "      BOMB: '%s'" % BOMB,
            "  tenants:",
            "    limited:",
            "      models: [m-ok]"]
    return "\n".join(out) + "\n"


def main():
    node = shutil.which("node")
    if not node or not os.path.isdir(os.path.join(NODE_DIR, "node_modules",
                                                  "openai")):
        print("skipped: node or tests/gateway/node/node_modules missing "
              "(run tools/setup.sh)")
        return 77
    fake = Fake()
    srv = Server(config(fake), env={"FAKE_UPSTREAM_KEY": "sk-up"})
    try:
        srv.start()
        env = dict(os.environ)
        env.update(BASE_URL="http://127.0.0.1:%d/v1" % srv.port,
                   API_KEY=srv.tenant("acme"),
                   LIMITED_KEY=srv.tenant("limited"),
                   TINY_KEY=srv.tenant("tiny", gateway_tokens_per_minute=50,
                                       gateway_tokens_per_day=1000))
        p = subprocess.run([node, "--test", "--test-reporter=spec",
                            os.path.join(NODE_DIR, "sdk_test.mjs")],
                           cwd=NODE_DIR, env=env, timeout=90)
        if p.returncode != 0:
            print("\n".join(srv.log[-30:]), file=sys.stderr)
        rc = srv.stop()
        if rc != 0:
            print("server exited %s" % rc, file=sys.stderr)
            return 1
        return p.returncode
    finally:
        srv.cleanup()
        fake.stop()


if __name__ == "__main__":
    sys.exit(main())
