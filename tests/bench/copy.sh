#!/bin/sh
# Benchmark `ferry copy` against nbdcopy and qemu-img convert.
#
# A benchmark, not a test: it never passes or fails on time. A run whose
# command exits non-zero (sparse-random rejects wrong data with EIO, so a
# wrong copy fails too) is reported as FAIL and left out of the timings.
#
#   tests/bench/copy.sh                 all cases, 5 runs of each tool
#   RUNS=3 CASES="a c" tests/bench/copy.sh
#
# Environment:
#   RUNS       runs per tool per case (default 5); tools alternate run by run
#   CASES      which of a b c d to run (default "a b c d")
#   FERRY      the ferry binary (default build/ferry of this checkout); it
#              is copied into the work directory first and that copy is timed
#   BENCH_DIR  where temporary files go (default /dev/shm when it has 8 GiB
#              free, else $TMPDIR or /tmp); a mktemp -d inside it is removed
#              on exit
#
# Cases:
#   a  nbdkit sparse-random size=16G (10% data) copied onto itself
#   b  nbdkit sparse-random size=4G percent=100 copied onto itself
#   c  nbdkit null size=100G to a new sparse file
#   d  8G qcow2 served by qemu-nbd, 2% of its 64k blocks dirty in bitmap bm0:
#      ferry --incremental vs full copies by ferry, nbdcopy and qemu-img
#
# Times are wall-clock seconds of the copying command alone (server start and
# per-run preparation are outside the timing), taken with date +%s.%N.
# Throughput is virtual size / median time, in GiB/s; a ratio
# ferry/TOOL > 1 means ferry is faster.
set -u
# Tool commands are kept in single quotes on purpose: the shell that runs
# them (nbdkit --run's, or sh -c) expands "$uri", "$DST" and "$FERRY".
# shellcheck disable=SC2016

RUNS=${RUNS:-5}
CASES=${CASES:-"a b c d"}
case $RUNS in
'' | *[!0-9]* | 0) echo "copy.sh: RUNS must be a positive integer" >&2; exit 2 ;;
esac
for c in $CASES; do
	case $c in
	a | b | c | d) ;;
	*) echo "copy.sh: unknown case '$c' (cases: a b c d)" >&2; exit 2 ;;
	esac
done

root=$(cd "$(dirname "$0")/../.." && pwd)
FERRY=${FERRY:-$root/build/ferry}
if [ ! -x "$FERRY" ]; then
	echo "copy.sh: $FERRY not found; build first: cmake --build build -j2" >&2
	exit 2
fi

have() { command -v "$1" >/dev/null 2>&1; }

# ---- work directory ------------------------------------------------------

if [ -z "${BENCH_DIR:-}" ]; then
	BENCH_DIR=${TMPDIR:-/tmp}
	if [ -d /dev/shm ] && [ -w /dev/shm ]; then
		free_k=$(df -Pk /dev/shm 2>/dev/null | awk 'NR == 2 { print $4 }')
		[ "${free_k:-0}" -ge 8388608 ] && BENCH_DIR=/dev/shm
	fi
fi
dir=$(mktemp -d "$BENCH_DIR/ferry-bench.XXXXXX") || exit 2
qnbd_pid=""
cleanup() {
	# qemu-nbd -t never exits on its own; nbdkit --run servers end with
	# their command.
	if [ -n "$qnbd_pid" ]; then
		kill "$qnbd_pid" 2>/dev/null || :
	elif [ -s "$dir/d.pid" ]; then
		kill "$(cat "$dir/d.pid")" 2>/dev/null || :
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# timed FILE CMD...: run CMD, write its wall-clock seconds to FILE, exit as
# CMD did. Runs inside nbdkit --run, so only the tool is timed.
# Time a private copy: a rebuild during the benchmark must not change the
# binary between runs.
ferry_src=$FERRY
cp "$ferry_src" "$dir/ferry" || exit 2
FERRY=$dir/ferry
TIMED=$dir/timed
cat >"$TIMED" <<'EOF'
#!/bin/sh
f=$1
shift
s=$(date +%s.%N)
"$@"
rc=$?
e=$(date +%s.%N)
awk -v s="$s" -v e="$e" 'BEGIN { printf "%.3f\n", e - s }' >"$f"
exit $rc
EOF
chmod +x "$TIMED"
TFILE=$dir/elapsed
export TIMED TFILE FERRY

# ---- helpers -------------------------------------------------------------

# stats FILE: "n median min max" of the numbers in FILE, one a line.
stats() {
	sort -n "$1" | awk '{ v[NR] = $1 }
		END {
			if (NR == 0) { print "0 - - -"; exit }
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%d %.3f %.3f %.3f\n", NR, m, v[1], v[NR]
		}'
}

# gib BYTES: bytes as GiB with two decimals.
gib() { awk -v b="$1" 'BEGIN { printf "%.2f", b / 1073741824 }'; }

# run_one CASE TOOL RUN SERVER TOOLCMD: time TOOLCMD (a string for sh, with
# "$uri", "$DST", "$FERRY" left for it to expand), inside `SERVER --run` when
# SERVER is not empty. Appends the time to $dir/t.CASE.TOOL, or counts and
# shows a failure. Prints the time (or FAIL) for the progress line.
run_one() {
	_c=$1 _t=$2 _r=$3 _srv=$4 _cmd=$5
	_log=$dir/log.$_c.$_t.$_r
	rm -f "$TFILE"
	if [ -n "$_srv" ]; then
		# shellcheck disable=SC2086 # SERVER is words without quoting
		$_srv --run "\"\$TIMED\" \"\$TFILE\" $_cmd" >"$_log" 2>&1 </dev/null
	else
		sh -c "\"\$TIMED\" \"\$TFILE\" $_cmd" >"$_log" 2>&1 </dev/null
	fi
	_rc=$?
	if [ $_rc -eq 0 ] && [ -s "$TFILE" ]; then
		cat "$TFILE" >>"$dir/t.$_c.$_t"
		printf ' %s %s' "$_t" "$(cat "$TFILE")"
	else
		echo x >>"$dir/f.$_c.$_t"
		printf ' %s FAIL(exit %s)' "$_t" "$_rc"
		{
			echo "  FAIL: case $_c, $_t, run $_r, exit $_rc; last output:"
			tail -n 4 "$_log" | sed 's/^/    | /'
		} >>"$dir/failures.$_c"
	fi
}

# report CASE VSIZE TOOLS...: the table of one case; ferry/TOOL ratios for
# every tool whose name starts with "ferry" against every other tool.
report() {
	_c=$1 _v=$2
	shift 2
	_tools="$*"
	echo
	printf '  %-11s %5s %8s %8s %8s %8s\n' tool ok median min max 'GiB/s'
	for _t in $_tools; do
		if [ -e "$dir/skip.$_c.$_t" ]; then
			printf '  %-11s %s\n' "$_t" "skipped: $(cat "$dir/skip.$_c.$_t")"
			continue
		fi
		touch "$dir/t.$_c.$_t"
		# shellcheck disable=SC2046 # four numbers
		set -- $(stats "$dir/t.$_c.$_t")
		_n=$1 _med=$2 _min=$3 _max=$4
		if [ "$_n" -gt 0 ]; then
			_gs=$(awk -v v="$_v" -v t="$_med" 'BEGIN { printf "%.2f", (t > 0 ? v / 1073741824 / t : 0) }')
		else
			_gs=-
		fi
		echo "$_med" >"$dir/med.$_c.$_t"
		printf '  %-11s %5s %8s %8s %8s %8s\n' "$_t" "$_n/$RUNS" "$_med" "$_min" "$_max" "$_gs"
	done
	for _f in $_tools; do
		case $_f in ferry*) ;; *) continue ;; esac
		[ -e "$dir/med.$_c.$_f" ] || continue
		_line=""
		for _o in $_tools; do
			[ "$_o" = "$_f" ] && continue
			[ -e "$dir/med.$_c.$_o" ] || continue
			case $_f in ferry-full) case $_o in ferry*) continue ;; esac ;; esac
			_r=$(awk -v a="$(cat "$dir/med.$_c.$_f")" -v b="$(cat "$dir/med.$_c.$_o")" \
				'BEGIN { if (a == "-" || b == "-" || a <= 0) print "-"; else printf "%.2f", b / a }')
			_line="$_line  $_f/$_o $_r"
		done
		[ -n "$_line" ] && echo "  throughput ratio:$_line"
	done
	for _t in $_tools; do
		[ -s "$dir/t.$_c.$_t" ] && echo "  runs $_t (s): $(tr '\n' ' ' <"$dir/t.$_c.$_t")"
	done
	[ -s "$dir/failures.$_c" ] && cat "$dir/failures.$_c"
	:
}

# rotate N WORDS...: WORDS rotated left by N (tools alternate and take turns
# at going first).
rotate() {
	_n=$1
	shift
	_i=0
	while [ $_i -lt $((_n % $#)) ]; do
		_x=$1
		shift
		set -- "$@" "$_x"
		_i=$((_i + 1))
	done
	echo "$@"
}

# ---- machine -------------------------------------------------------------

echo "ferry copy benchmark, $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "  machine:  $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)," \
	"$(awk '/^MemTotal/ { printf "%.0f GiB RAM", $2 / 1048576 }' /proc/meminfo)"
echo "  kernel:   $(uname -sr)"
echo "  load:     $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min, at start)"
echo "  ferry:    $ferry_src ($(git -C "$root" describe --always --dirty 2>/dev/null || echo unknown)), sha256 $(sha256sum "$FERRY" | cut -c1-12), copied to \$FERRY=$FERRY"
echo "  nbdkit:   $(have nbdkit && nbdkit --version | head -n 1 || echo 'not installed')"
echo "  nbdcopy:  $(have nbdcopy && nbdcopy --version | head -n 1 || echo 'not installed')"
echo "  qemu-img: $(have qemu-img && qemu-img --version | head -n 1 || echo 'not installed')"
echo "  work dir: $dir ($(stat -f -c %T "$dir" 2>/dev/null || echo '?'))"
echo "  runs:     RUNS=$RUNS per tool, tools alternating; CASES=\"$CASES\""
echo "  timing:   wall seconds of the tool command alone (date +%s.%N);" \
	"GiB/s = virtual size / median"

# ---- cases a, b, c: nbdkit servers ---------------------------------------

# nbdkit_case CASE TITLE VSIZE PLUGIN-ARGS DST: DST is empty for a copy onto
# the source itself.
nbdkit_case() {
	_c=$1 _title=$2 _vsize=$3 _srvargs=$4 DST=$5
	export DST
	echo
	echo "== case $_c: $_title"
	if ! have nbdkit; then
		echo "  skipped: nbdkit not installed"
		return
	fi
	_plugin=${_srvargs%% *}
	if ! nbdkit "$_plugin" --dump-plugin >/dev/null 2>&1; then
		echo "  skipped: nbdkit plugin $_plugin not installed"
		return
	fi
	_srv="nbdkit -U - $_srvargs"
	if [ -z "$DST" ]; then
		cmd_ferry='"$FERRY" copy "$uri" "$uri"'
		cmd_nbdcopy='nbdcopy "$uri" "$uri"'
		cmd_qemu='qemu-img convert -n -f raw -O raw "$uri" "$uri"'
	else
		cmd_ferry='"$FERRY" copy "$uri" "$DST"'
		cmd_nbdcopy='nbdcopy "$uri" "$DST"'
		cmd_qemu='qemu-img convert -f raw -O raw "$uri" "$DST"'
	fi
	tools="ferry"
	if have nbdcopy; then tools="$tools nbdcopy"; else echo "nbdcopy not installed" >"$dir/skip.$_c.nbdcopy"; fi
	if have qemu-img; then tools="$tools qemu-img"; else echo "qemu-img not installed" >"$dir/skip.$_c.qemu-img"; fi
	echo "  commands (FERRY=$FERRY${DST:+, DST=$DST}):"
	echo "    ferry:    $_srv --run '$cmd_ferry'"
	echo "    nbdcopy:  $_srv --run '$cmd_nbdcopy'"
	echo "    qemu-img: $_srv --run '$cmd_qemu'"
	[ -n "$DST" ] && echo "  DST is removed before each run; it is a new sparse file every time."
	_i=1
	while [ $_i -le "$RUNS" ]; do
		printf '  run %d:' $_i
		for _t in $(rotate $((_i - 1)) $tools); do
			[ -n "$DST" ] && rm -f "$DST"
			case $_t in
			ferry) run_one "$_c" ferry $_i "$_srv" "$cmd_ferry" ;;
			nbdcopy) run_one "$_c" nbdcopy $_i "$_srv" "$cmd_nbdcopy" ;;
			qemu-img) run_one "$_c" qemu-img $_i "$_srv" "$cmd_qemu" ;;
			esac
			if [ -n "$DST" ] && [ -e "$DST" ]; then
				# allocated KiB of the destination, to show it stayed sparse
				echo "$_t $(du -k "$DST" | cut -f1)" >>"$dir/alloc.$_c"
			fi
		done
		echo
		_i=$((_i + 1))
	done
	[ -n "$DST" ] && rm -f "$DST"
	report "$_c" "$_vsize" ferry nbdcopy qemu-img
	if [ -s "$dir/alloc.$_c" ]; then
		echo "  destination allocated after a run (max KiB):$(awk '
			{ if (!($1 in m) || $2 > m[$1]) m[$1] = $2; if (!($1 in seen)) { seen[$1] = 1; o[++n] = $1 } }
			END { for (i = 1; i <= n; i++) printf " %s %d", o[i], m[o[i]] }' "$dir/alloc.$_c")"
	fi
}

for c in $CASES; do
	case $c in
	a) nbdkit_case a "sparse-random size=16G (10% data) onto itself, Unix socket" \
		17179869184 "sparse-random size=16G" "" ;;
	b) nbdkit_case b "sparse-random size=4G percent=100 onto itself, Unix socket" \
		4294967296 "sparse-random size=4G percent=100" "" ;;
	c) nbdkit_case c "null size=100G to a new sparse file" \
		107374182400 "null size=100G" "$dir/c.img" ;;
	esac
done

# ---- case d: incremental from a qemu-nbd dirty bitmap --------------------

case_d() {
	echo
	echo "== case d: 8G qcow2, 2% of 64k blocks dirty in bitmap bm0, qemu-nbd, to a local file"
	for _t in qemu-img qemu-io qemu-nbd; do
		if ! have $_t; then
			echo "  skipped: $_t not installed"
			return
		fi
	done
	_img=$dir/d.qcow2 _size=8589934592
	_s=$(date +%s)
	# Old state: three 512M extents (1.5G of data).
	qemu-img create -q -f qcow2 "$_img" 8G || return
	qemu-io -f qcow2 -c 'write -q -P 0xaa 0 512M' -c 'write -q -P 0xab 3G 512M' \
		-c 'write -q -P 0xac 6G 512M' "$_img" >/dev/null || return
	# The incremental destination holds the old state, as after the last
	# backup; it is reset to it before each run.
	qemu-img convert -f qcow2 -O raw "$_img" "$dir/d-old.img" || return
	qemu-img bitmap --add --enable -f qcow2 "$_img" bm0 || return
	# 2%: every 50th 64k block, in one qemu-io invocation.
	set --
	_b=0 _nb=0
	while [ $_b -lt $((_size / 65536)) ]; do
		set -- "$@" -c "write -q -P 0xbb $((_b * 65536)) 64k"
		_b=$((_b + 50)) _nb=$((_nb + 1))
	done
	qemu-io -f qcow2 "$@" "$_img" >/dev/null || return
	set --
	_dirty=$((_nb * 65536))
	_data=$(qemu-img map -U -f qcow2 --output=json "$_img" | awk '
		/"data": true/ && /"zero": false/ {
			if (match($0, /"length": [0-9]+/)) s += substr($0, RSTART + 10, RLENGTH - 10)
		}
		END { printf "%.0f", s }')
	qemu-nbd -t -e 8 -r -f qcow2 -B bm0 -k "$dir/d.sock" --fork \
		--pid-file "$dir/d.pid" "$_img" || return
	qnbd_pid=$(cat "$dir/d.pid")
	uri="nbd+unix:///?socket=$dir/d.sock"
	DST=$dir/d-full.img
	export uri DST
	echo "  setup: qemu-img create -f qcow2 d.qcow2 8G; qemu-io write -P 0xaa/0xab/0xac at 0, 3G, 6G (512M each);"
	echo "         qemu-img convert -O raw d.qcow2 d-old.img (old state); qemu-img bitmap --add --enable bm0;"
	echo "         qemu-io -c 'write -q -P 0xbb \$((k*50*64k)) 64k' for k = 0..$((_nb - 1)) ($_nb writes);"
	echo "         qemu-nbd -t -e 8 -r -f qcow2 -B bm0 -k d.sock --fork --pid-file d.pid d.qcow2"
	# Warm qemu-nbd and the page cache once, so that the first timed full
	# copy does not pay for it alone.
	"$FERRY" copy "$uri" null: >/dev/null 2>&1 || :
	echo "         $FERRY copy \"\$uri\" null: (warm-up, untimed)"
	echo "         ($(($(date +%s) - _s)) s; data in export $_data bytes ($(gib "$_data") GiB), dirty $_dirty bytes ($(gib "$_dirty") GiB))"
	cmd_inc='"$FERRY" copy -o json --incremental bitmap:bm0 "$uri" '"\"$dir/d-inc.img\""
	cmd_full='"$FERRY" copy -o json "$uri" "$DST"'
	cmd_nbdcopy='nbdcopy "$uri" "$DST"'
	cmd_qemu='qemu-img convert -f raw -O raw "$uri" "$DST"'
	echo "  commands (uri=$uri; DST=$DST, removed before each run;"
	echo "            d-inc.img reset before each run: cp --sparse=always d-old.img d-inc.img):"
	echo "    ferry-inc:  $cmd_inc"
	echo "    ferry-full: $cmd_full"
	echo "    nbdcopy:    $cmd_nbdcopy"
	echo "    qemu-img:   $cmd_qemu"
	tools="ferry-inc ferry-full"
	if have nbdcopy; then tools="$tools nbdcopy"; else echo "nbdcopy not installed" >"$dir/skip.d.nbdcopy"; fi
	tools="$tools qemu-img"
	_i=1
	while [ $_i -le "$RUNS" ]; do
		printf '  run %d:' $_i
		for _t in $(rotate $((_i - 1)) $tools); do
			rm -f "$DST"
			[ "$_t" = ferry-inc ] && cp --sparse=always "$dir/d-old.img" "$dir/d-inc.img"
			case $_t in
			ferry-inc) run_one d ferry-inc $_i "" "$cmd_inc" ;;
			ferry-full) run_one d ferry-full $_i "" "$cmd_full" ;;
			nbdcopy) run_one d nbdcopy $_i "" "$cmd_nbdcopy" ;;
			qemu-img) run_one d qemu-img $_i "" "$cmd_qemu" ;;
			esac
		done
		echo
		_i=$((_i + 1))
	done
	rm -f "$DST"
	report d "$_size" ferry-inc ferry-full nbdcopy qemu-img
	# Bytes moved: ferry's own report; the full copiers read and write the
	# export's data.
	_moved() {
		for _l in "$dir"/log.d."$1".*; do
			[ -e "$_l" ] || continue
			sed -n 's/.*"bytes_written": *\([0-9]*\).*/\1/p' "$_l"
		done | sort -u | tr '\n' ' '
	}
	echo "  bytes written: ferry-inc $(_moved ferry-inc)(json bytes_written)," \
		"ferry-full $(_moved ferry-full)(json bytes_written)," \
		"nbdcopy/qemu-img ~$_data (the export's data)"
	if [ -s "$dir/t.d.ferry-inc" ]; then
		if qemu-img compare -q -U -f raw -F qcow2 "$dir/d-inc.img" "$_img"; then
			echo "  check: old state + ferry --incremental equals the source (qemu-img compare)"
		else
			echo "  check: MISMATCH: old state + ferry --incremental differs from the source (qemu-img compare)"
		fi
	fi
	kill "$qnbd_pid" 2>/dev/null
	qnbd_pid=""
	rm -f "$dir/d.pid"
}

for c in $CASES; do
	[ "$c" = d ] && case_d
done
echo
echo "done, $(date -u '+%Y-%m-%d %H:%M UTC'); load $(cut -d' ' -f1-3 /proc/loadavg) at the end"
