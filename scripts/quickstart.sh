#!/bin/sh
# README command 1: install what ferry needs (Debian packages only), build it
# into build/, and run its main job on the embedded default repository,
# examples/quickstart (an OVA source and the local directory target).
#
# The main job is `ferry quickstart`: it builds a Git repository from the
# embedded examples/quickstart and an OVA share of two VMs in
# ./ferry-quickstart, migrates both into ./ferry-quickstart/target and
# writes the status branch. Run it again to start over.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

scripts/install-deps
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target ferry >/dev/null

echo "+ build/ferry quickstart --dir ferry-quickstart"
exec build/ferry quickstart --dir ferry-quickstart
