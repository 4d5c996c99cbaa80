# Sourced by the project's scripts before ensure-pnpm.sh: makes a supported Node the first `node` on
# PATH on a machine whose Node is older (or that has only an older Node's npm), without root, in
# <repo>/.tools (gitignored). The `node` npm package installs the real binary for this platform; its
# install step runs the Node that is already there, so some Node and npm must exist.
#
# By default a Node older than 22.12 (the oldest that vite and knip accept) is replaced by Node 24.
# METERLINE_NODE_MAJOR=22 asks for exactly that major instead, installed in <repo>/.tools/node22 so that
# it leaves the default Node and pnpm in <repo>/.tools alone; CI's second leg runs the unit tests on it.
# Source it after ensure-pnpm.sh in that case, so that its PATH entry stays in front of <repo>/.tools.
_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_default_major=24
_want_major=${METERLINE_NODE_MAJOR:-}

# Prints the version of the Node binary $1 (nothing if it does not run).
_node_version() { "$1" -p 'process.versions.node' 2>/dev/null || true; }

# Whether version $1 is the one wanted: the forced major, or else 22.12 or newer.
_node_fits() {
  local major minor rest
  IFS=. read -r major minor rest <<<"$1"
  [[ $major =~ ^[0-9]+$ && $minor =~ ^[0-9]+$ ]] || return 1
  if [[ -n $_want_major ]]; then
    ((major == _want_major))
  else
    ((major > 22 || (major == 22 && minor >= 12)))
  fi
}

if ! _node_fits "$(_node_version node)"; then
  _major=${_want_major:-$_default_major}
  _prefix=$_root/.tools
  ((_major == _default_major)) || _prefix=$_root/.tools/node$_major
  if ! _node_fits "$(_node_version "$_prefix/node_modules/.bin/node")"; then
    if ! command -v npm >/dev/null; then
      echo "ensure-node.sh: Node $_major is needed and there is no npm to install it with" >&2
      return 1
    fi
    echo "installing Node $_major into ${_prefix#"$_root/"}" >&2
    npm install --silent --no-audit --no-fund --prefix "$_prefix" "node@$_major" >&2
  fi
  export PATH="$_prefix/node_modules/.bin:$PATH"
  hash -r
fi
unset _root _default_major _want_major _major _prefix
unset -f _node_version _node_fits
