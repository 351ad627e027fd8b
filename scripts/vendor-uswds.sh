#!/usr/bin/env bash
# Re-vendor the compiled USWDS files into challenges/static/uswds/ (run by `make assets`).
# Copies only what the compiled CSS references, plus the banner images and the icon sprite.
set -euo pipefail
VERSION="${USWDS_VERSION:-3.14.0}"
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
DEST="$ROOT/challenges/static/uswds"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT

cd "$WORK"
npm pack --silent "@uswds/uswds@$VERSION" >/dev/null 2>&1
tar xzf "uswds-uswds-$VERSION.tgz"
DIST="$WORK/package/dist"

rm -rf "$DEST"
mkdir -p "$DEST/css" "$DEST/js"
cp "$DIST/css/uswds.min.css" "$DEST/css/"
cp "$DIST/js/uswds.min.js" "$DIST/js/uswds-init.min.js" "$DEST/js/"
# Every font and image the stylesheet points at (url(../fonts/…), url(../img/…)).
grep -o 'url([^)]*)' "$DIST/css/uswds.min.css" | sed 's/url(//; s/)//; s/"//g' \
  | grep '^\.\./' | grep -v 'hero.jpg' | sort -u | while read -r rel; do
    path="${rel#../}"
    mkdir -p "$DEST/$(dirname "$path")"
    cp "$DIST/$path" "$DEST/$path"
  done
for img in us_flag_small.png icon-dot-gov.svg icon-https.svg sprite.svg favicons/favicon.ico favicons/favicon-40.png; do
  mkdir -p "$DEST/img/$(dirname "$img")"
  cp "$DIST/img/$img" "$DEST/img/$img"
done
cp "$WORK/package/LICENSE.md" "$DEST/LICENSE.md"
echo "$VERSION" > "$DEST/VERSION"
du -sh "$DEST"
