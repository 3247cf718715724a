#!/bin/sh
# README command 1: install what ferry needs (Debian packages only), build it
# into build/, and run its main job on the embedded default repository,
# examples/quickstart (an OVA source and the local directory target).
#
# Until the reconciler lands, the main job is `ferry validate`: it loads the
# quickstart's migration plan and reports what it finds.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

scripts/install-deps
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target ferry >/dev/null

echo "+ build/ferry validate examples/quickstart"
build/ferry validate examples/quickstart
echo
echo "ferry loaded the quickstart plan (examples/quickstart) and found nothing"
echo "that blocks it. Migrating it end to end arrives with the reconciler."
