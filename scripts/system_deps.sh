#!/usr/bin/env bash
# Installs the system libraries physreason needs when they are missing: Mesa's EGL for
# MuJoCo's offscreen renderer (software rendering, no GPU needed). Does nothing when present.
set -euo pipefail
if ldconfig -p | grep -q 'libEGL.so.1' && ldconfig -p | grep -q 'libEGL_mesa.so.0'; then
  exit 0
fi
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then
  echo "physreason needs Mesa's EGL (Debian: apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri)" >&2
  exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libegl1 libegl-mesa0 libgl1-mesa-dri >/dev/null
