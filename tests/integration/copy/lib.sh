# Sourced by the ferry copy integration tests (POSIX sh):
#   . "$(dirname "$0")/lib.sh"      with the ferry binary as $1
# Gives: $ferry (also exported as $FERRY for nbdkit --run), $dir (a temp
# dir, the cwd, removed on exit), skip/fail MSG, need TOOL..., need_plugin P,
# need_filter F, bg_pid PID / bg_pidfile FILE (killed on exit), json_num
# FILE KEY, alloc_bytes FILE, wait_for_file / wait_for_socket PATH SECONDS,
# put_random / put_byte (data at known offsets), same A B (equal images),
# ckpt_bytes CHECKPOINT (bytes it records).
set -eu

ferry=${1:?usage: $0 FERRY-BINARY}
case $ferry in /*) ;; *) ferry=$(pwd)/$ferry ;; esac
[ -x "$ferry" ] || { echo "FAIL: $ferry is not executable"; exit 1; }
export FERRY="$ferry"

skip() { echo "SKIP: $*"; exit 77; }
fail() { echo "FAIL: $*" >&2; exit 1; }
need() {
	for t; do command -v "$t" >/dev/null 2>&1 || skip "$t not installed"; done
}
need_plugin() {
	need nbdkit
	nbdkit "$1" --dump-plugin >/dev/null 2>&1 || skip "nbdkit plugin $1 missing"
}
need_filter() {
	need nbdkit
	nbdkit --filter="$1" null --dump-plugin >/dev/null 2>&1 ||
		skip "nbdkit filter $1 missing"
}

# Background processes to kill on exit (and pid files whose pid to kill).
_pids=
_pidfiles=
bg_pid() { _pids="$_pids $1"; }
bg_pidfile() { _pidfiles="$_pidfiles $1"; }

_cleanup() {
	set +e
	for p in $_pids; do kill -9 "$p" 2>/dev/null; done
	for f in $_pidfiles; do
		[ -s "$f" ] && kill "$(cat "$f")" 2>/dev/null
	done
	for p in $_pids; do wait "$p" 2>/dev/null; done
	rm -rf "$dir"
}
dir=$(mktemp -d "${TMPDIR:-/tmp}/ferry-copy.XXXXXX")
trap _cleanup EXIT
trap 'exit 130' INT TERM
cd "$dir"

# A number from a `ferry copy -o json` report.
json_num() {
	jq -e -r ".$2 | numbers" "$1" 2>/dev/null || fail "$1: no number .$2 in: $(cat "$1")"
}

# Bytes a file occupies on disk.
alloc_bytes() { echo $(($(stat -c %b "$1") * $(stat -c %B "$1"))); }

# Wait until FILE exists (and is non-empty); give up after SECONDS.
wait_for_file() {
	_n=0
	while [ ! -s "$1" ]; do
		_n=$((_n + 1))
		[ $_n -gt $(($2 * 20)) ] && return 1
		sleep 0.05
	done
	return 0
}

# Random data: write COUNT blocks of BS bytes at block SEEK of FILE.
put_random() {
	dd if=/dev/urandom of="$1" bs="$2" seek="$3" count="$4" conv=notrunc status=none
}

# Fill COUNT blocks of BS bytes at block SEEK of FILE with byte BYTE (octal \NNN).
put_byte() {
	head -c $(($2 * $4)) /dev/zero | tr '\000' "$5" |
		dd of="$1" bs="$2" seek="$3" count="$4" iflag=fullblock conv=notrunc status=none
}

# Do two raw images hold the same bytes (and have the same size)? qemu-img
# compare skips holes (cmp reads 2G of them in seconds); not -s, which also
# compares allocation; cmp without qemu-img.
same() {
	[ "$(stat -c %s "$1")" -eq "$(stat -c %s "$2")" ] || {
		echo "$1 has $(stat -c %s "$1") bytes, $2 has $(stat -c %s "$2")" >&2
		return 1
	}
	if command -v qemu-img >/dev/null 2>&1; then
		qemu-img compare -q -f raw -F raw "$1" "$2"
	else
		cmp "$1" "$2"
	fi
}

# Wait until the Unix socket PATH exists; give up after SECONDS.
wait_for_socket() {
	_n=0
	while [ ! -S "$1" ]; do
		_n=$((_n + 1))
		[ $_n -gt $(($2 * 20)) ] && return 1
		sleep 0.05
	done
	return 0
}

# Sum of the ranges a ferry checkpoint file records.
ckpt_bytes() { awk '/^[0-9]+ [0-9]+$/ { s += $2 } END { print s + 0 }' "$1"; }

# Serve nbdkit pattern ($1 bytes, all data) on $dir/src.sock behind the
# rate filter ($2, lifted by writing a rate into $dir/rate), and set uri.
# --threads=1: nbdkit 1.32.5 aborts ("raw_send_socket: Assertion sock >= 0")
# when a client killed with requests in flight disconnects.
serve_slow_pattern() {
	sock=$dir/src.sock
	rm -f "$sock"
	nbdkit -f -U "$sock" --threads=1 --filter=rate pattern size="$1" rate="$2" \
		rate-file="$dir/rate" &
	bg_pid $!
	wait_for_socket "$sock" 10 || fail "nbdkit did not start"
	uri="nbd+unix:///?socket=$sock"
}

# Start a checkpointed copy of $uri to out.img in the background (report in
# run1.json, messages in run1.err); set copy (the command, to run it again)
# and fp (its pid).
start_resumable_copy() {
	copy="$ferry copy --connections 4 --requests 1 --checkpoint ck -o json"
	$copy "$uri" out.img >run1.json 2>run1.err &
	fp=$!
	bg_pid $fp
}
