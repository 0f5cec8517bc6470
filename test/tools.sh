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

# Python tools: rebuild the venv only when requirements.txt changes.
req=test/requirements.txt
stamp=$tools/venv/.requirements.sha256
want=$(sha256sum "$req" | cut -d' ' -f1)
if [[ ! -x $tools/venv/bin/python || ! -f $stamp || $(cat "$stamp") != "$want" ]]; then
	log "installing $req into .tools/venv"
	rm -rf "$tools/venv"
	python3 -m venv "$tools/venv"
	"$tools/venv/bin/pip" install --quiet --disable-pip-version-check -r "$req"
	echo "$want" >"$stamp"
fi

# Lambda Runtime Interface Emulator.
rie_stamp=$tools/bin/.aws-lambda-rie.version
if [[ ! -x $tools/bin/aws-lambda-rie || ! -f $rie_stamp || $(cat "$rie_stamp") != "$rie_version" ]]; then
	log "installing aws-lambda-rie@$rie_version into .tools/bin"
	GOBIN=$tools/bin go install "github.com/aws/aws-lambda-runtime-interface-emulator/cmd/aws-lambda-rie@$rie_version"
	echo "$rie_version" >"$rie_stamp"
fi

# CDK app dependencies, when the app has a lockfile.
if [[ -f infra/package-lock.json ]]; then
	lock_stamp=$tools/infra-package-lock.sha256
	want=$(sha256sum infra/package-lock.json | cut -d' ' -f1)
	if [[ ! -d infra/node_modules || ! -f $lock_stamp || $(cat "$lock_stamp") != "$want" ]]; then
		log "npm ci in infra/"
		(cd infra && npm ci --no-audit --no-fund)
		echo "$want" >"$lock_stamp"
	fi
	export PATH=$root/infra/node_modules/.bin:$PATH
fi

# event-ruler, EventBridge's pattern matcher, for the coverage test
# (test/eventruler): its jars from Maven Central into .tools/eventruler/lib,
# Maven's own cache in .tools/m2, and the matcher compiled once. Rebuilt
# only when the pom or the matcher changes.
er=$tools/eventruler
er_stamp=$er/.stamp
want=$(cat test/eventruler/pom.xml test/eventruler/java/Match.java | sha256sum | cut -d' ' -f1)
if [[ ! -f $er_stamp || $(cat "$er_stamp") != "$want" ]]; then
	log "installing event-ruler (Maven) into .tools/eventruler"
	rm -rf "$er/lib" "$er/classes"
	mvn -q -B -Dstyle.color=never -f test/eventruler/pom.xml -Dmaven.repo.local="$tools/m2" \
		dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$er/lib"
	javac -Xlint:all -Werror -d "$er/classes" -cp "$er/lib/*" test/eventruler/java/Match.java
	echo "$want" >"$er_stamp"
fi
export EVENT_RULER_CLASSPATH="$er/classes:$er/lib/*"

export S3XGUARD_REQUIRE_TOOLS=1
export MOTO_SERVER=$tools/venv/bin/moto_server
export AWS_LAMBDA_RIE=$tools/bin/aws-lambda-rie
export CFN_LINT=$tools/venv/bin/cfn-lint
export JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION=1


# Trino, for the SQL equivalence tests (test/trino): the server distribution
# from Maven Central, fetched once into .tools/m2 and extracted once into
# .tools/trino-server-VERSION. It runs on the Java 25 these machines have.
trino_version=476
trino_home=$tools/trino-server-$trino_version
if [[ ! -f $trino_home/.extracted ]]; then
	log "fetching io.trino:trino-server:$trino_version:tar.gz into .tools/m2"
	mvn --batch-mode --quiet -Dmaven.repo.local="$tools/m2" dependency:get \
		-Dartifact="io.trino:trino-server:$trino_version:tar.gz" -Dtransitive=false
	log "extracting Trino into .tools/trino-server-$trino_version"
	rm -rf "$trino_home"
	tar -xzf "$tools/m2/io/trino/trino-server/$trino_version/trino-server-$trino_version.tar.gz" -C "$tools"
	touch "$trino_home/.extracted"
fi
export TRINO_HOME=$trino_home
export TRINO_JAVA_HOME=${TRINO_JAVA_HOME:-/usr/lib/jvm/temurin-25-jdk-amd64}

# The venv's Python, for the OCSF schema validation (test/ocsf/validate.py).
export S3XGUARD_PYTHON=$tools/venv/bin/python
