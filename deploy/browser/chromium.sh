#!/usr/bin/env bash
# Prints the path of a Chromium binary, installing Debian's `chromium` package when none is there.
# Interface: `deploy/browser/chromium.sh` -> one path on stdout (apt output goes to stderr).
set -euo pipefail

find_chromium() {
  command -v chromium || command -v chromium-browser || command -v google-chrome || true
}

path="$(find_chromium)"
if [ -z "$path" ]; then
  sudo_cmd=""
  if [ "$(id -u)" != "0" ]; then sudo_cmd="sudo"; fi
  {
    $sudo_cmd apt-get update -o DPkg::Lock::Timeout=600
    DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -o DPkg::Lock::Timeout=600 chromium
  } >&2
  path="$(find_chromium)"
fi
if [ -z "$path" ]; then
  echo "chromium.sh: no chromium binary after installing the 'chromium' package" >&2
  exit 1
fi
echo "$path"
