#!/usr/bin/env bash
# A service written in shell, with no Eureka, health or metrics code: the karyon sidecar does that.
# socat accepts the connections and runs handler.sh for each; this script keeps a TTL check alive
# (the sidecar keeps the service STARTING until the first report, and DOWN if the reports stop),
# reloads its settings on SIGHUP and stops on SIGTERM. Needs bash, socat and curl.
set -u
here="$(cd "$(dirname "$0")" && pwd)"
: "${PORT:?PORT is set by the sidecar}"
: "${KARYON_SIDECAR_URL:?KARYON_SIDECAR_URL is set by the sidecar}"
if ! command -v socat >/dev/null 2>&1; then
  echo "hello-sh: socat is needed (Debian/Ubuntu: apt-get install socat)" >&2
  exit 2
fi

log() { echo "hello-sh:$PORT $*"; }

socat -T 10 "TCP-LISTEN:$PORT,reuseaddr,fork" "EXEC:$here/handler.sh" &
listener=$!
log "listening on port $PORT (socat pid $listener)"

stop() {
  log "$1: stopping"
  kill "$listener" 2>/dev/null
  wait "$listener" 2>/dev/null
  exit 0
}
trap 'stop SIGTERM' TERM
trap 'stop SIGINT' INT
# The settings file is read by every request; SIGHUP only says it changed.
trap 'log "SIGHUP: settings now: $(cat "${KARYON_CONFIG_FILE:-/dev/null}" 2>/dev/null | tr "\n" " ")"' HUP

# Report to the TTL check every few seconds while the listener is alive; `sleep &` + `wait` keeps the
# traps responsive.
while kill -0 "$listener" 2>/dev/null; do
  curl --silent --output /dev/null --max-time 2 -X PUT "$KARYON_SIDECAR_URL/v1/agent/check/pass/heartbeat?note=listener%20$listener%20alive"
  sleep 3 &
  wait $!
done
log "the listener died"
exit 1
