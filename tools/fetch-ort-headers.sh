#!/bin/sh
# Put onnxruntime's C API headers (onnxruntime_c_api.h and friends) into DEST (default
# third_party/onnxruntime/include) for `make hotloop`. The onnxruntime wheel ships the library
# but no headers, and Debian 12 has no onnxruntime package; Debian 13 ("trixie") has
# libonnxruntime-dev. This downloads that one .deb through a private apt configuration that
# reuses this machine's Debian mirror (no system change, nothing installed) and unpacks only
# its headers. Usage: tools/fetch-ort-headers.sh [DEST]
set -eu
DEST=${1:-third_party/onnxruntime/include}
[ -f "$DEST/onnxruntime_c_api.h" ] && exit 0
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
uri=$(sed -n 's/^URIs: *\(.*\/debian\)\/*$/\1/p' /etc/apt/sources.list.d/debian.sources 2>/dev/null | head -n1)
[ -n "$uri" ] || uri=$(sed -n 's/^deb \([^ ]*\/debian\)\/* .*/\1/p' /etc/apt/sources.list 2>/dev/null | head -n1)
[ -n "$uri" ] || uri=http://deb.debian.org/debian
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/etc"
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $uri trixie main" > "$work/etc/sources.list"
opts="-o Dir::Etc::SourceList=$work/etc/sources.list -o Dir::Etc::SourceParts=/dev/null -o Dir::State::Lists=$work/lists
 -o Dir::Cache=$work/cache -o Dir::State::status=/dev/null -o APT::Architecture=amd64 -o Debug::NoLocking=1
 -o APT::Sandbox::User=root"
apt-get $opts update -qq >/dev/null
(cd "$work" && apt-get $opts download libonnxruntime-dev >/dev/null)
dpkg-deb -x "$work"/libonnxruntime-dev_*.deb "$work/x"
mkdir -p "$DEST"
cp "$work"/x/usr/include/onnxruntime/*.h "$DEST"/
echo "onnxruntime C headers $(dpkg-deb -f "$work"/libonnxruntime-dev_*.deb Version) -> $DEST"
