#!/usr/bin/env bash
# One HTTP request on stdin, one response on stdout (socat runs this per connection).
#   GET /health  -> 200
#   GET /hello   -> a greeting from the settings file the sidecar renders
#   GET /relay   -> calls hello-py through the sidecar's egress proxy (balanced, retried, broken)
set -u
read -r method path _version || exit 0
path="${path%$'\r'}"
while IFS= read -r header && [ -n "${header%$'\r'}" ]; do :; done

metric() {
  # Plain statsd to the sidecar's relay, over bash's /dev/udp; the relay adds app, instance and zone.
  if [ -n "${STATSD_PORT:-}" ]; then echo -n "$1" > "/dev/udp/${STATSD_HOST:-127.0.0.1}/$STATSD_PORT"; fi
}

reply() {
  printf 'HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %s\r\nConnection: close\r\n\r\n%s' "$1" "$2" "${#3}" "$3"
}

greeting=hello
if [ -n "${KARYON_CONFIG_FILE:-}" ] && [ -f "$KARYON_CONFIG_FILE" ]; then
  greeting="$(sed -n 's/^greeting=//p' "$KARYON_CONFIG_FILE")"
fi

case "$method $path" in
  "GET /health")
    reply "200 OK" text/plain "ok" ;;
  "GET /hello")
    metric "hello.requests:1|c|#route:/hello"
    reply "200 OK" application/json "{\"message\":\"$greeting from shell\",\"port\":$PORT}" ;;
  "GET /relay")
    metric "hello.requests:1|c|#route:/relay"
    answer="$(curl --silent --max-time 5 "$KARYON_SIDECAR_URL/hello-py/hello")"
    reply "200 OK" application/json "{\"from\":\"shell:$PORT\",\"python\":${answer:-null}}" ;;
  *)
    reply "404 Not Found" text/plain "no route $method $path" ;;
esac
