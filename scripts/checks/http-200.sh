#!/bin/sh
# Consul-style check: passes (exit 0) when URL answers HTTP 200, critical (exit 2) otherwise.
# Usage: http-200.sh URL [TIMEOUT_SECONDS]
# Prints the status line it got, so the check's output says why it failed. Needs curl or wget.
url="$1"
timeout="${2:-5}"
if [ -z "$url" ]; then
  echo "usage: http-200.sh URL [TIMEOUT_SECONDS]" >&2
  exit 2
fi
if command -v curl >/dev/null 2>&1; then
  code=$(curl --silent --output /dev/null --max-time "$timeout" --write-out '%{http_code}' "$url")
  if [ "$code" = "200" ]; then
    echo "GET $url: HTTP 200"
    exit 0
  fi
  if [ "$code" = "000" ]; then
    echo "GET $url: no answer"
  else
    echo "GET $url: HTTP $code"
  fi
  exit 2
fi
if command -v wget >/dev/null 2>&1; then
  # wget exits 0 only for a 2xx after redirects; its server response names the code.
  line=$(wget --quiet --server-response --timeout="$timeout" --output-document=/dev/null "$url" 2>&1 | awk '/^  HTTP\//{l=$0} END{print l}')
  case "$line" in
    *" 200"*) echo "GET $url:$line"; exit 0 ;;
    "") echo "GET $url: no answer"; exit 2 ;;
    *) echo "GET $url:$line"; exit 2 ;;
  esac
fi
echo "http-200.sh needs curl or wget" >&2
exit 2
