#!/usr/bin/env bash
# install-code-server.sh [DEST] - code-server 4.100.3 (= VS Code 1.100.3, the last release on node 20)
# into a project-local folder (default .tools/code-server), for the extension's integration test.
#
# Only the npm registry and Debian packages are used: code-server's install scripts would fetch
# ripgrep from api.github.com and argon2 from github.com, so they are skipped (--ignore-scripts),
# the native modules are built from source (apt: libkrb5-dev pkg-config build-essential) and
# Debian's rg (apt: ripgrep) takes the place of the downloaded one. Idempotent: a finished install
# leaves a stamp and is not redone.
set -euo pipefail
VERSION=4.100.3
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=${1:-$ROOT/.tools/code-server}
STAMP=$DEST/.installed-$VERSION
if [ -f "$STAMP" ] && [ -x "$DEST/node_modules/.bin/code-server" ]; then
    exit 0
fi
command -v rg >/dev/null 2>&1 || { echo "install-code-server: ripgrep missing (scripts/install-system-deps.sh)" >&2; exit 1; }
export npm_config_yes=true npm_config_audit=false npm_config_fund=false
# node-gyp builds against the system's node headers instead of downloading them.
if [ -z "${npm_config_nodedir:-}" ] && [ -f /usr/include/node/node_version.h ]; then
    export npm_config_nodedir=/usr
fi
mkdir -p "$DEST"
cd "$DEST"
[ -f package.json ] || echo '{"name":"paramlens-code-server","private":true}' > package.json
echo "install-code-server: code-server@$VERSION into $DEST (about a minute)" >&2
npm install --no-save --ignore-scripts --loglevel=error "code-server@$VERSION"
npm rebuild --foreground-scripts --loglevel=error argon2 >/dev/null
cd node_modules/code-server/lib/vscode
npm install --omit=dev --ignore-scripts --loglevel=error
mkdir -p node_modules/@vscode/ripgrep/bin
cp "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
npm rebuild --foreground-scripts --loglevel=error \
    @parcel/watcher @vscode/deviceid @vscode/spdlog kerberos native-watchdog node-pty >/dev/null
ln -sfn node_modules node_modules.asar
(cd bin/remote-cli && ln -sfn code-linux.sh code-server)
(cd bin/helpers && ln -sfn browser-linux.sh browser.sh)
(cd extensions && npm install --omit=dev --loglevel=error)
touch "$STAMP"
echo "install-code-server: ok: $DEST/node_modules/.bin/code-server" >&2
