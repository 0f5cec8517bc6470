# Sourced by test/run and test/figures: installs the test tools from the
# project's own files into .tools/ (idempotent, cached) and exports where
# they are. Expects set -euo pipefail.

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# S3XGUARD_TOOLS shares one tools directory between checkouts (git worktrees).
tools=${S3XGUARD_TOOLS:-$root/.tools}
mkdir -p "$tools/bin"

# The Runtime Interface Emulator has no tagged Go module versions: pin the
# pseudo-version of the commit we tested with.
rie_version=v0.0.0-20261030222936-bef5c4ba774d

log() { printf 'test/%s: %s\n' "${0##*/}" "$*" >&2; }

# A cold run installs about 2 GB (Trino alone is 820 MB) and took 14
# minutes: each stage says what it installs, and how long it took and how
# much it holds once done; stage_times lists them all at the end.
stage_times=()
stage_begin() {
	stage_name=$1 stage_start=$SECONDS
	log "$stage_name: $2"
}
# stage_end [DIR]: the stage's time, and DIR's size.
stage_end() {
	local took=$((SECONDS - stage_start)) size=""
	if [[ $# -gt 0 ]]; then
		size=", $(du -sh "$1" 2>/dev/null | cut -f1) in ${1#"$root"/}"
	fi
	stage_times+=("$(printf '%5ds  %s' "$took" "$stage_name")")
	log "$stage_name: done in ${took}s$size"
}
# stage_cached NAME WHERE: the stage had nothing to do.
stage_cached() {
	stage_times+=("$(printf '%5ss  %s (cached)' 0 "$1")")
	log "$1: cached in $2"
}
print_stage_times() {
	log "time per stage:"
	printf '  %s\n' "${stage_times[@]}" >&2
}

# Python tools: rebuild the venv only when requirements.txt changes.
req=test/requirements.txt
stamp=$tools/venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [[ ! -x $tools/venv/bin/python || ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
	stage_begin python "installing $req (moto, cfn-lint, OCSF schema tools) from PyPI into $tools/venv"
	rm -rf "$tools/venv"
	python3 -m venv "$tools/venv"
	"$tools/venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
	echo "$want" >"$stamp"
	stage_end "$tools/venv"
else
	stage_cached python "$tools/venv"
fi

# Debian packages: jq (the README's Security Hub import block) and the
# shells the completion scripts are tested in (zsh, fish).
debs=()
for cmd in jq zsh fish; do
	command -v "$cmd" >/dev/null || debs+=("$cmd")
done
if [[ ${#debs[@]} -gt 0 ]]; then
	stage_begin debian "installing ${debs[*]} with apt-get (Debian)"
	sudo=""
	[[ $(id -u) -eq 0 ]] || sudo=sudo
	$sudo apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${debs[@]}" >/dev/null
	stage_end
else
	stage_cached debian "the system (jq, zsh, fish)"
fi
export JQ
JQ=$(command -v jq)

# Lambda Runtime Interface Emulator.
rie_stamp=$tools/bin/.aws-lambda-rie.version
if [[ ! -x $tools/bin/aws-lambda-rie || ! -f $rie_stamp || $(cat "$rie_stamp") != "$rie_version" ]]; then
	stage_begin rie "building aws-lambda-rie@$rie_version (Go module proxy) into $tools/bin"
	GOBIN=$tools/bin go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$rie_version"
	echo "$rie_version" >"$rie_stamp"
	stage_end "$tools/bin/aws-lambda-rie"
else
	stage_cached rie "$tools/bin"
fi

# The CDK CLI and the Node.js it and the CDK's Go library (jsii) run on,
# both pinned in infra/package.json: npm's package "node" fetches that
# Node.js from the npm registry, so no system Node.js newer than the one
# that runs npm is needed. node_modules belongs to the checkout, and so
# does the stamp that says which lockfile it was installed from.
if [[ -f infra/package-lock.json ]]; then
	lock_stamp=infra/node_modules/.s3xguard-package-lock.sha256
	want=$(sha256sum infra/package-lock.json | cut -d' ' -f1)
	if [[ ! -f $lock_stamp || $(cat "$lock_stamp") != "$want" ]]; then
		stage_begin node "npm ci in infra/ (the CDK CLI and Node.js $(sed -n 's/.*"node": "\([0-9][0-9.]*\)".*/\1/p' infra/package.json), from the npm registry)"
		(cd infra && npm ci --no-audit --no-fund --loglevel=error)
		echo "$want" >"$lock_stamp"
		stage_end "$root/infra/node_modules"
	else
		stage_cached node "$root/infra/node_modules"
	fi
	export PATH=$root/infra/node_modules/.bin:$PATH
	log "node $(node --version) from $(command -v node)"
fi

# event-ruler, EventBridge's pattern matcher, for the coverage test
# (test/eventruler): its jars from Maven Central into .tools/eventruler/lib,
# Maven's own cache in .tools/m2, and the matcher compiled once. Rebuilt
# only when the pom or the matcher changes.
er=$tools/eventruler
er_stamp=$er/.stamp
want=$(cat test/eventruler/pom.xml test/eventruler/java/Match.java | sha256sum | cut -d' ' -f1)
if [[ ! -f $er_stamp || $(cat "$er_stamp") != "$want" ]]; then
	stage_begin event-ruler "installing event-ruler (Maven Central) into $er"
	rm -rf "$er/lib" "$er/classes"
	mvn -q -B -Dstyle.color=never -f test/eventruler/pom.xml -Dmaven.repo.local="$tools/m2" \
		dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$er/lib"
	javac -Xlint:all -Werror -d "$er/classes" -cp "$er/lib/*" test/eventruler/java/Match.java
	echo "$want" >"$er_stamp"
	stage_end "$er"
else
	stage_cached event-ruler "$er"
fi
export EVENT_RULER_CLASSPATH="$er/classes:$er/lib/*"

export S3XGUARD_REQUIRE_TOOLS=1
export MOTO_SERVER=$tools/venv/bin/moto_server
export AWS_LAMBDA_RIE=$tools/bin/aws-lambda-rie
export CFN_LINT=$tools/venv/bin/cfn-lint
export AWS_CLI=$tools/venv/bin/aws


# Trino, for the SQL equivalence tests (test/trino): the server distribution
# from Maven Central, fetched once into .tools/m2 and extracted once into
# .tools/trino-server-VERSION. It runs on the Java 25 these machines have.
trino_version=476
trino_home=$tools/trino-server-$trino_version
if [[ ! -f $trino_home/.extracted ]]; then
	stage_begin trino "fetching io.trino:trino-server:$trino_version:tar.gz (about 820 MB, Maven Central) into $tools/m2 and extracting it"
	mvn --batch-mode --quiet -Dmaven.repo.local="$tools/m2" dependency:get \
		-Dartifact="io.trino:trino-server:$trino_version:tar.gz" -Dtransitive=false
	rm -rf "$trino_home"
	tar -xzf "$tools/m2/io/trino/trino-server/$trino_version/trino-server-$trino_version.tar.gz" -C "$tools"
	touch "$trino_home/.extracted"
	stage_end "$trino_home"
else
	stage_cached trino "$trino_home"
fi
export TRINO_HOME=$trino_home
export TRINO_JAVA_HOME=${TRINO_JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}

# The venv's Python, for the OCSF schema validation (test/ocsf/validate.py).
export S3XGUARD_PYTHON=$tools/venv/bin/python
