"""A small Python service with no Eureka, breaker or metrics code: the karyon sidecar gives it all that.

It only does what any twelve-factor app does: listens on $PORT, answers /health, reads its settings from a
file ($KARYON_CONFIG_FILE, rendered by the sidecar) and re-reads them on SIGHUP, sends plain statsd to
$STATSD_HOST:$STATSD_PORT (the sidecar's relay), and stops on SIGTERM.
"""
import json
import os
import signal
import socket
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT = int(os.environ.get("PORT", "8000"))
WARMUP_SECONDS = float(os.environ.get("WARMUP_SECONDS", "2"))
CONFIG_FILE = os.environ.get("KARYON_CONFIG_FILE")
STATSD = (os.environ.get("STATSD_HOST"), os.environ.get("STATSD_PORT"))
started = time.monotonic()
settings = {"greeting": "hello"}
statsd = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


def log(message):
    print(f"hello-py:{PORT} {message}", flush=True)


def load_settings(*_):
    """Reads key=value lines from the rendered file (a .properties file)."""
    if not CONFIG_FILE or not os.path.exists(CONFIG_FILE):
        return
    with open(CONFIG_FILE, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#") and "=" in line:
                key, value = line.split("=", 1)
                settings[key.strip()] = value.strip()
    log(f"settings loaded: {settings}")


def metric(line):
    if STATSD[0] and STATSD[1]:
        statsd.sendto(line.encode(), (STATSD[0], int(STATSD[1])))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):
        begun = time.monotonic()
        if self.path == "/health":
            ready = time.monotonic() - started >= WARMUP_SECONDS
            self.reply(200 if ready else 503, {"status": "UP" if ready else "warming up"})
        elif self.path.startswith("/hello"):
            self.reply(200, {"message": f"{settings['greeting']} from python", "port": PORT})
            metric("hello.requests:1|c|#route:/hello")
            metric(f"hello.latency:{(time.monotonic() - begun) * 1000:.3f}|ms|#route:/hello")
        else:
            self.reply(404, {"error": f"no route {self.path}"})

    def reply(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *_):
        pass


def main():
    load_settings()
    signal.signal(signal.SIGHUP, load_settings)
    server = ThreadingHTTPServer(("0.0.0.0", PORT), Handler)
    server.daemon_threads = True

    def stop(signum, _frame):
        log(f"{signal.Signals(signum).name}: finishing requests and exiting")
        threading.Thread(target=server.shutdown).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log(f"listening on port {PORT} (ready in {WARMUP_SECONDS:g}s)")
    server.serve_forever()
    server.server_close()
    log("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
