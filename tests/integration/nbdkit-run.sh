#!/bin/sh
# Run one ep_test mode against a captive nbdkit:
#   nbdkit-run.sh TESTBIN MODE NBDKIT-ARGS...
# The plugin is the first argument that is neither an option nor key=value;
# write filters and options as single words (--filter=error, --threads=1).
# Exit 77 (skip) when nbdkit or the plugin is missing.
set -eu
testbin=$1 mode=$2
shift 2

command -v nbdkit >/dev/null 2>&1 || { echo "nbdkit not installed"; exit 77; }
for a in "$@"; do
	case $a in
	-* | *=*) ;;
	*)
		nbdkit "$a" --dump-plugin >/dev/null 2>&1 ||
			{ echo "nbdkit plugin $a not installed"; exit 77; }
		break
		;;
	esac
done

export EP_TESTBIN="$testbin" EP_MODE="$mode"
exec nbdkit -U - "$@" --run '"$EP_TESTBIN" "$EP_MODE" "$uri"'
