#!/usr/bin/env bash
# Installs one pinned Pulumi CLI release into DEST for the CI pipelines, checked against a
# SHA-256, instead of piping the moving get.pulumi.com installer into a shell.
#
# The checksum is PULUMI_CLI_SHA256 when set (pin it as a CI variable after checking it
# once), else the release's own checksums file. The version follows @pulumi/pulumi in
# package.json (test/pipelines.test.ts keeps the two equal).
set -euo pipefail

PULUMI_VERSION=3.276.0
dest=${1:?usage: install-pulumi-cli.sh DEST}

case "$(uname -m)" in
    x86_64 | amd64) arch=x64 ;;
    aarch64 | arm64) arch=arm64 ;;
    *) echo "install-pulumi-cli.sh: no Pulumi CLI release for $(uname -m)" >&2; exit 1 ;;
esac
archive="pulumi-v$PULUMI_VERSION-linux-$arch.tar.gz"
release="https://github.com/pulumi/pulumi/releases/download/v$PULUMI_VERSION"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fetch() { curl -fsSL --proto '=https' --tlsv1.2 --retry 3 -o "$1" "$2"; }

fetch "$work/$archive" "$release/$archive"
expected=${PULUMI_CLI_SHA256:-}
if [ -z "$expected" ]; then
    fetch "$work/checksums.txt" "$release/pulumi-$PULUMI_VERSION-checksums.txt"
    expected=$(awk -v file="$archive" '$2 == file { print $1 }' "$work/checksums.txt")
fi
if ! [[ $expected =~ ^[0-9a-f]{64}$ ]]; then
    echo "install-pulumi-cli.sh: no SHA-256 for $archive" >&2
    exit 1
fi
actual=$(sha256sum "$work/$archive" | cut -d ' ' -f 1)
if [ "$actual" != "$expected" ]; then
    echo "install-pulumi-cli.sh: $archive has SHA-256 $actual, expected $expected; not installed" >&2
    exit 1
fi

tar -xzf "$work/$archive" -C "$work"
mkdir -p "$dest"
cp "$work"/pulumi/* "$dest"/
"$dest/pulumi" version
