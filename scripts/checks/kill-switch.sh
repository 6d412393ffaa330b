#!/bin/sh
# Consul-style check: critical (exit 2) while FILE exists, passing (exit 0) otherwise.
# Usage: kill-switch.sh FILE
# Touch the file to take the instance out of traffic (DOWN in Eureka), remove it to bring it back. The
# file's first line, if any, is shown as the reason.
file="$1"
if [ -z "$file" ]; then
  echo "usage: kill-switch.sh FILE" >&2
  exit 2
fi
if [ -e "$file" ]; then
  reason=$(head -n 1 "$file" 2>/dev/null)
  echo "kill switch $file is on${reason:+: $reason}"
  exit 2
fi
echo "kill switch $file is off"
exit 0
