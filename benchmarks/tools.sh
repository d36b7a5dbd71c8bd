#!/usr/bin/env bash
# Installs the load tools the benchmarks use, only from the project's registries:
#   wrk, hyperfine   Debian packages (apt-get)
#   vegeta           go install github.com/tsenart/vegeta/v12 (into benchmarks/.bin)
#   hey              go install github.com/rakyll/hey (into benchmarks/.bin)
# Idempotent: installs only what is missing. Prints the bin directory to put on PATH.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin="$here/.bin"
mkdir -p "$bin"
export GOBIN="$bin" GOFLAGS=-mod=mod

need_apt=()
command -v wrk >/dev/null 2>&1 || need_apt+=(wrk)
command -v hyperfine >/dev/null 2>&1 || need_apt+=(hyperfine)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
if ((${#need_apt[@]})); then
	sudo=""
	[ "$(id -u)" = 0 ] || sudo="sudo"
	echo "tools.sh: apt-get install ${need_apt[*]}" >&2
	$sudo apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# Run go install outside the module so the tools do not touch go.mod.
if [ ! -x "$bin/vegeta" ]; then
	echo "tools.sh: go install vegeta" >&2
	(cd / && GOFLAGS= go install github.com/tsenart/vegeta/v12@latest)
fi
if [ ! -x "$bin/hey" ]; then
	echo "tools.sh: go install hey" >&2
	(cd / && GOFLAGS= go install github.com/rakyll/hey@latest)
fi
echo "$bin"
