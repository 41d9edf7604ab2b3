#!/usr/bin/env bash
# Builds the real Kubernetes binaries the tests run against (kube-apiserver and
# kubectl, from the k8s.io/kubernetes module in tests/kube/tools) into a cache
# outside the repository keyed by version, and installs etcd from Debian when
# it is not on PATH. Idempotent: a second run builds nothing.
#
#   tests/kube/build.sh            build/install what is missing
#   eval "$(tests/kube/build.sh)"  ... and export the OTOMI_TEST_* variables
#
# Progress goes to stderr; stdout carries only the export lines.
# OTOMI_TOOLS_CACHE overrides the cache root ($HOME/.cache/otomi-tools).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tools=$here/tools

# The version is the one tools/go.mod requires: one source of truth.
version=$(awk '$1 == "require" && $2 == "k8s.io/kubernetes" { print $3 }' "$tools/go.mod")
if [[ ! $version =~ ^v1\.([0-9]+)\.[0-9]+$ ]]; then
	echo "build.sh: cannot read the k8s.io/kubernetes version from $tools/go.mod (got '$version')" >&2
	exit 1
fi
minor=${BASH_REMATCH[1]}

cache=${OTOMI_TOOLS_CACHE:-$HOME/.cache/otomi-tools}
dir=$cache/kube-$version
mkdir -p "$dir"

# Serialise concurrent runs (two terminals, parallel CI jobs) on this version.
if command -v flock >/dev/null; then
	exec 9>"$dir/.lock"
	flock 9
fi

stamp() { # package prefix -> -X flags
	printf -- '-X %s.gitVersion=%s -X %s.gitMajor=1 -X %s.gitMinor=%s -X %s.gitTreeState=clean ' \
		"$1" "$version" "$1" "$1" "$minor" "$1"
}

missing=()
for cmd in kube-apiserver kubectl; do
	[[ -x $dir/$cmd ]] || missing+=("k8s.io/kubernetes/cmd/$cmd")
done
if ((${#missing[@]})); then
	echo "► building ${missing[*]##*/} $version into $dir (about 11 min cold on 2 cores)" >&2
	start=$SECONDS
	tmp=$(mktemp -d "$dir/.build.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	(
		cd "$tools"
		CGO_ENABLED=0 go build -trimpath -o "$tmp/" \
			-ldflags "-s -w $(stamp k8s.io/component-base/version)$(stamp k8s.io/client-go/pkg/version)" \
			"${missing[@]}"
	)
	# Rename into place only once built, so an interrupted build leaves no half binary.
	for pkg in "${missing[@]}"; do
		mv -f "$tmp/${pkg##*/}" "$dir/${pkg##*/}"
	done
	echo "✔ built in $((SECONDS - start))s" >&2
fi

if ! command -v etcd >/dev/null; then
	echo "► installing etcd (apt-get install etcd-server)" >&2
	sudo=()
	[[ $(id -u) == 0 ]] || sudo=(sudo)
	export DEBIAN_FRONTEND=noninteractive
	if ! "${sudo[@]}" apt-get install -y etcd-server >&2; then
		"${sudo[@]}" apt-get update >&2
		"${sudo[@]}" apt-get install -y etcd-server >&2
	fi
fi

echo "✔ kube-apiserver $("$dir/kube-apiserver" --version | awk '{print $2}'), kubectl, etcd $(etcd --version | awk 'NR == 1 {print $3}')" >&2
echo "export OTOMI_TEST_KUBE_APISERVER=$dir/kube-apiserver"
echo "export OTOMI_TEST_KUBECTL=$dir/kubectl"
echo "export OTOMI_TEST_ETCD=$(command -v etcd)"
