#!/usr/bin/env bash
# Prints the path of a headless-capable Chromium, installing Debian's `chromium` package when
# missing (as root, with apt-get). The API documentation test drives it; nothing is downloaded
# from anywhere but the distribution's package archive.
#
#   chromium.sh        # prints e.g. /usr/bin/chromium
set -euo pipefail

die() { echo "chromium.sh: $*" >&2; exit 1; }

find_chromium() {
  local name
  for name in chromium chromium-browser; do
    command -v "$name" && return 0
  done
  return 1
}

find_chromium && exit 0
[[ "$(id -u)" -eq 0 ]] || die "Chromium not found; install Debian's 'chromium' package"
command -v apt-get >/dev/null || die "Chromium not found and no apt-get to install it"
echo "installing chromium with apt-get" >&2
DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends chromium >&2
find_chromium || die "apt-get installed chromium, but no chromium command was found"
