#!/usr/bin/env bash
# Installs the provider plugins the program uses (the versions of @pulumi/aws, command,
# docker-build and tls in package-lock.json) for the CI pipelines, each checked by
# `pulumi plugin install --checksum` against a SHA-256 committed here or given in
# NBF_PLUGIN_SHA256, never one read from where the plugin comes from. The pipelines then
# set PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION, so Pulumi never fetches an unchecked one.
#
# `pulumi plugin install` skips a plugin already in $PULUMI_HOME/plugins, unchecked, and a
# shared runner keeps ~/.pulumi between jobs: a job could leave a plugin there that the next
# one runs with its token. So every plugin is downloaded and checked again (--reinstall), and
# the pipelines give each job a new, empty PULUMI_HOME, so no plugin of another version left
# there is found either.
#
# Checksum lines, in PINNED_SHA256 or NBF_PLUGIN_SHA256 (one per line):
#   <sha256>  <plugin> <version> <os>-<arch>     e.g. "…  aws 7.1.0 linux-amd64"
set -euo pipefail
cd "$(dirname "$0")/.."

PLUGINS=(aws command docker-build tls)
# Empty until a maintainer fills it from the plugins' published checksums: this checkout was
# prepared offline and a checksum is not guessed. Until then set NBF_PLUGIN_SHA256.
PINNED_SHA256=""

case "$(uname -m)" in
    x86_64 | amd64) platform=linux-amd64 ;;
    aarch64 | arm64) platform=linux-arm64 ;;
    *) echo "install-pulumi-plugins.sh: no provider plugins for $(uname -m)" >&2; exit 1 ;;
esac

sums=$(printf '%s\n%s\n' "${NBF_PLUGIN_SHA256:-}" "$PINNED_SHA256")
wanted=()
missing=()
for name in "${PLUGINS[@]}"; do
    version=$(node -p 'require(process.argv[1]).packages["node_modules/@pulumi/" + process.argv[2]].version' "$PWD/package-lock.json" "$name")
    sha=$(printf '%s\n' "$sums" | awk -v n="$name" -v v="$version" -v p="$platform" '$2 == n && $3 == v && $4 == p { print $1; exit }')
    if ! [[ $sha =~ ^[0-9a-f]{64}$ ]]; then
        missing+=("<sha256>  $name $version $platform")
        continue
    fi
    wanted+=("$name" "$version" "$sha")
done
if [ "${#missing[@]}" -gt 0 ]; then
    {
        echo "install-pulumi-plugins.sh: no SHA-256 committed in PINNED_SHA256 or given in NBF_PLUGIN_SHA256 for:"
        printf '  %s\n' "${missing[@]}"
        echo "Add those lines (the plugins' published checksums, checked once by hand); nothing was installed."
    } >&2
    exit 1
fi
for ((i = 0; i < ${#wanted[@]}; i += 3)); do
    pulumi plugin install resource "${wanted[i]}" "${wanted[i + 1]}" --exact --reinstall --checksum "${wanted[i + 2]}"
done
