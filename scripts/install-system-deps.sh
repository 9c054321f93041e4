#!/usr/bin/env bash
# Debian packages the real-client tests need: Neovim (LSP client), Chromium + ripgrep for
# VS Code through code-server. Idempotent: installs only what is missing.
set -euo pipefail
needed=()
command -v nvim >/dev/null 2>&1 || needed+=(neovim)
command -v chromium >/dev/null 2>&1 || needed+=(chromium)
command -v rg >/dev/null 2>&1 || needed+=(ripgrep)
# code-server's native modules (kerberos, node-pty, argon2) are built from source: headers + toolchain.
dpkg -s libkrb5-dev >/dev/null 2>&1 || needed+=(libkrb5-dev)
command -v pkg-config >/dev/null 2>&1 || needed+=(pkg-config)
command -v g++ >/dev/null 2>&1 || needed+=(build-essential)
[ ${#needed[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    echo "install-system-deps: need root to apt-get install ${needed[*]}" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${needed[@]}" >/dev/null
