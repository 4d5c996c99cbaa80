# Sourced by the project's scripts: makes the pinned pnpm available on a machine that has only Node and
# npm, without root, in <repo>/.tools (gitignored).
_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
_want=$(node -p "require('$_root/package.json').packageManager.split('@')[1]")
if [[ "$(pnpm --version 2>/dev/null)" != "$_want" ]]; then
  if [[ ! -x $_root/.tools/node_modules/.bin/pnpm ]] || [[ "$("$_root/.tools/node_modules/.bin/pnpm" --version)" != "$_want" ]]; then
    echo "installing pnpm $_want into .tools" >&2
    npm install --silent --no-audit --no-fund --prefix "$_root/.tools" "pnpm@$_want" >&2
  fi
  export PATH="$_root/.tools/node_modules/.bin:$PATH"
fi
unset _root _want
