# Real Git servers on loopback for the integration tests (POSIX sh).
# Source it:   . "$(dirname "$0")/lib.sh"
# The servers run as the current user; everything they write is under the
# scratch dir the test passes to gitlab_init (no spaces or quotes in its
# path), and gitlab_cleanup stops them. Functions (sh globals they use
# start with _gl_):
#
# gitlab_init SCRATCH [trap]
#     Sets GL_DIR=SCRATCH (absolute) and makes its dirs. Exports
#     GIT_CONFIG_NOSYSTEM=1, HOME=$GL_DIR/home (fresh .gitconfig: user
#     "Test Human" <human@example.com>, init.defaultBranch main,
#     safe.directory '*'), XDG_CONFIG_HOME=$HOME/.config and
#     GIT_TERMINAL_PROMPT=0 (a refused login fails instead of prompting),
#     and unsets GIT_DIR, GIT_WORK_TREE and the like. With "trap", installs
#     `trap gitlab_cleanup EXIT` (and exits 130 on INT/TERM); without, the
#     test installs its own trap that calls gitlab_cleanup.
# gitlab_bare NAME [SEEDDIR]
#     Creates the bare repo $GL_DIR/srv/NAME.git, default branch main, with
#     http.receivepack true, receive.denyNonFastForwards true and
#     receive.denyDeletes true (the server refuses force pushes and branch
#     deletions). With SEEDDIR, main gets one commit holding SEEDDIR's files.
#     Prints nothing.
# gitlab_free_port
#     Prints a TCP port that nothing on this host uses (from /proc/net/tcp*,
#     or ss), below the ephemeral range. The servers below retry with
#     another port if theirs was taken meanwhile.
# gitlab_daemon
#     Starts `git daemon --verbose` on 127.0.0.1 serving $GL_DIR/srv
#     (--export-all --enable=receive-pack), log in $GL_DIR/daemon.log, and
#     waits (10 s at most) until it listens. Sets GL_GIT_URL_BASE
#     (git://127.0.0.1:PORT; repos are $GL_GIT_URL_BASE/NAME.git).
# gitlab_count_fetches [NAME]
#     Prints how many upload-pack connections git daemon has served (for
#     NAME.git, or for all repos): its lines "Request upload-pack for
#     '/NAME.git'". Every connection counts: fetch, clone, ls-remote, and a
#     fetch that finds nothing new, in protocol v0 and v2 alike.
# gitlab_http [auth]
#     Starts lighttpd with /usr/lib/git-core/git-http-backend (mod_cgi) on
#     127.0.0.1 (GIT_PROJECT_ROOT=$GL_DIR/srv, GIT_HTTP_EXPORT_ALL=1) and
#     waits until it listens. Sets GL_HTTP_URL_BASE
#     (http://127.0.0.1:PORT/git; repos are $GL_HTTP_URL_BASE/NAME.git) and
#     GL_HTTP_PORT. With "auth", every request needs HTTP basic auth as
#     GL_HTTP_USER (ferry-bot) with GL_HTTP_PASSWORD (s3cret-token-123),
#     and REMOTE_USER is the user; the others get 401. With "tls"
#     (needs lighttpd-mod-openssl), it speaks HTTPS with a certificate for
#     localhost and 127.0.0.1 signed by a throwaway CA made with openssl:
#     then GL_HTTP_URL_BASE is https://localhost:PORT/git (libgit2 1.5's
#     mbedTLS checks DNS names only) and GL_HTTP_CA the CA's PEM file. A plain and an auth
#     server may run at once (each call sets the variables anew). Logs:
#     $GL_DIR/http-access.log (lighttpd, all servers; fields: server port,
#     client, user, time, "request line", status, bytes; 401s included)
#     and $GL_DIR/http-requests.log (one line "PORT METHOD URI USER" per
#     request that reached git-http-backend, written before it runs, so it
#     is complete as soon as the client is done; lighttpd 1.4.69 buffers
#     its access log and writes lines up to a few seconds late).
# gitlab_count_http_fetches [NAME]  /  gitlab_count_http_adverts [NAME]
#     Print, for the server GL_HTTP_PORT names, how many
#     "POST .../NAME.git/git-upload-pack" requests / how many
#     "GET .../NAME.git/info/refs?service=git-upload-pack" requests reached
#     git-http-backend (not counting 401s). Protocol v0 (libgit2): a fetch
#     or clone is 1 GET + 1 POST, ls-remote or a fetch that finds nothing
#     new is 1 GET + 0 POST. Protocol v2 (git >= 2.26 by default): 1 GET +
#     1 POST (ls-refs) + 1 POST if it fetches.
# gitlab_sshd
#     As root only (returns 1 with a message otherwise, so the test can
#     skip): starts /usr/sbin/sshd -D on 127.0.0.1 with its own host key and
#     one ed25519 client key (no passphrase), all in $GL_DIR/ssh, log in
#     $GL_DIR/sshd.log; waits until it listens. Sets GL_SSH_URL_BASE
#     (ssh://USER@127.0.0.1:PORT$GL_DIR/srv; repos are
#     $GL_SSH_URL_BASE/NAME.git), GL_SSH_PORT, GL_SSH_KEY (client key; .pub
#     beside it), GL_SSH_KNOWN_HOSTS (the "[127.0.0.1]:PORT ssh-ed25519 ..."
#     line) and GL_SSH_COMMAND (an ssh command for GIT_SSH_COMMAND that uses
#     only these, with -F /dev/null: ssh reads ~/.ssh of the passwd home,
#     not of $HOME). The login's git runs with HOME=$GL_DIR/home.
# gitlab_human_commit NAME FILE CONTENT [MESSAGE]
#     Commits as a human would, in the clone $GL_DIR/human/NAME (cloned by
#     path on first use): takes the server's main (fetch + reset, i.e. a
#     pull --rebase that cannot conflict), writes CONTENT and a newline to
#     FILE (a path in the repo; dirs made), commits (even if nothing
#     changed) and pushes by path, never forced. If the push is rejected
#     because someone else pushed meanwhile, does all that again, 20 tries
#     at most. Prints the new commit's sha. Works on an empty repo too. Not
#     for two calls on the same NAME at once. Being by path, it shows in no
#     server log.
# gitlab_cleanup
#     Stops every server started in $GL_DIR (TERM, then KILL after 5 s) and
#     waits until they are gone. Leaves all files. Safe to call twice.

gitlab_init() {
	GL_DIR=${1:?usage: gitlab_init SCRATCH [trap]}
	case $GL_DIR in /*) ;; *) GL_DIR=$(pwd)/$GL_DIR ;; esac
	case $GL_DIR in *[[:space:]\'\"\\]*)
		echo "gitlab_init: no spaces or quotes in the path, please: $GL_DIR" >&2
		return 1
		;;
	esac
	mkdir -p "$GL_DIR/srv" "$GL_DIR/home" "$GL_DIR/human" "$GL_DIR/run" "$GL_DIR/tmp" ||
		return 1
	unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE GIT_OBJECT_DIRECTORY \
		GIT_ALTERNATE_OBJECT_DIRECTORIES GIT_CONFIG GIT_CONFIG_GLOBAL GIT_CONFIG_SYSTEM \
		GIT_CONFIG_PARAMETERS GIT_CONFIG_COUNT GIT_SSH GIT_SSH_COMMAND GIT_ASKPASS \
		SSH_ASKPASS GIT_NAMESPACE GIT_CEILING_DIRECTORIES GIT_PROTOCOL 2>/dev/null || true
	export GIT_CONFIG_NOSYSTEM=1 HOME="$GL_DIR/home" XDG_CONFIG_HOME="$GL_DIR/home/.config"
	export GIT_TERMINAL_PROMPT=0
	cat >"$HOME/.gitconfig" <<-EOF
		[user]
		  name = Test Human
		  email = human@example.com
		[init]
		  defaultBranch = main
		[safe]
		  directory = *
	EOF
	_gl_pids=
	GL_GIT_URL_BASE='' GL_HTTP_URL_BASE='' GL_HTTP_PORT='' GL_SSH_URL_BASE=''
	GL_HTTP_USER=ferry-bot GL_HTTP_PASSWORD=s3cret-token-123
	if [ "${2:-}" = trap ]; then
		trap gitlab_cleanup EXIT
		trap 'exit 130' INT TERM
	fi
	return 0
}

gitlab_bare() {
	_gl_repo=$GL_DIR/srv/${1:?usage: gitlab_bare NAME [SEEDDIR]}.git
	git init -q --bare -b main "$_gl_repo" || return 1
	git --git-dir="$_gl_repo" config http.receivepack true &&
		git --git-dir="$_gl_repo" config receive.denyNonFastForwards true &&
		git --git-dir="$_gl_repo" config receive.denyDeletes true || return 1
	[ $# -ge 2 ] || return 0
	# A throwaway repo whose work tree is SEEDDIR itself (nothing copied;
	# a .git inside SEEDDIR is ignored as git always does).
	_gl_seed=$(mktemp -d "$GL_DIR/tmp/seed.XXXXXX") || return 1
	git init -q -b main "$_gl_seed" &&
		git --git-dir="$_gl_seed/.git" --work-tree="$2" add -A &&
		git --git-dir="$_gl_seed/.git" --work-tree="$2" commit -q --allow-empty -m "Seed $1" &&
		git --git-dir="$_gl_seed/.git" push -q "$_gl_repo" main:main || return 1
	rm -rf "$_gl_seed"
}

# Is something bound to local TCP port $1 (any address, any state)?
_gl_port_used() {
	if [ -r /proc/net/tcp ]; then
		awk -v h=":$(printf %04X "$1")" 'FNR > 1 && substr($2, length($2) - 4) == h { f = 1 }
			END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
	else
		ss -Htan "sport = :$1" 2>/dev/null | grep -q .
	fi
}

# Is process $2 listening on 127.0.0.1 (or any address) port $1? Without
# /proc, is anything listening there?
_gl_listening() {
	if [ -r /proc/net/tcp ]; then
		for _gl_ino in $(awk -v h="$(printf %04X "$1")" 'FNR > 1 && $4 == "0A" &&
			($2 == "0100007F:" h || $2 == "00000000:" h) { print $10 }' /proc/net/tcp); do
			# shellcheck disable=SC2010 # fd names are numbers
			ls -l "/proc/$2/fd" 2>/dev/null | grep -qF "socket:[$_gl_ino]" && return 0
		done
		return 1
	else
		ss -Htln "sport = :$1" 2>/dev/null | grep -q .
	fi
}

gitlab_free_port() {
	_gl_lo=$(awk '{ print $1 }' /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null)
	[ "${_gl_lo:-0}" -gt 12000 ] 2>/dev/null || _gl_lo=32768
	_gl_n=0
	while [ $_gl_n -lt 500 ]; do
		_gl_n=$((_gl_n + 1))
		_gl_r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
		_gl_p=$((10000 + _gl_r % (_gl_lo - 10000)))
		_gl_port_used $_gl_p || { echo $_gl_p; return 0; }
	done
	echo "gitlab_free_port: no free port found" >&2
	return 1
}

# Is process $1 alive (and not a zombie)?
_gl_alive() {
	kill -0 "$1" 2>/dev/null || return 1
	_gl_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ "$_gl_st" != Z ]
}

# Wait until port $1 listens; give up after $3 seconds or when pid $2 dies.
_gl_wait_listen() {
	_gl_n=0
	while ! _gl_listening "$1" "$2"; do
		_gl_alive "$2" || return 1
		_gl_n=$((_gl_n + 1))
		[ $_gl_n -gt $(($3 * 20)) ] && return 1
		sleep 0.05
	done
	return 0
}

# Stop process $1: TERM, KILL after 5 s, reap it if it is our child.
_gl_stop() {
	kill "$1" 2>/dev/null || { wait "$1" 2>/dev/null || true; return 0; }
	_gl_n=0
	while _gl_alive "$1" && [ $_gl_n -lt 100 ]; do
		_gl_n=$((_gl_n + 1))
		sleep 0.05
	done
	_gl_alive "$1" && kill -9 "$1" 2>/dev/null
	wait "$1" 2>/dev/null || true
	return 0
}

# Remember server pid $2 under the name $1 (for gitlab_cleanup).
_gl_started() {
	echo "$2" >"$GL_DIR/run/$1.pid"
	_gl_pids="$_gl_pids $2"
}

# Run "$@" (a server started in the background by the caller-supplied
# function _gl_start_one PORT, which sets _gl_pid) on free ports until one
# listens; 5 tries. Sets _gl_port.
_gl_start_retry() {
	_gl_try=0
	while [ $_gl_try -lt 5 ]; do
		_gl_try=$((_gl_try + 1))
		_gl_port=$(gitlab_free_port) || return 1
		"$1" "$_gl_port" || return 1
		_gl_wait_listen "$_gl_port" "$_gl_pid" 10 && return 0
		_gl_stop "$_gl_pid"
	done
	return 1
}

_gl_start_daemon() {
	# git-daemon itself, not "git daemon": that is a parent waiting for it.
	"$(git --exec-path)/git-daemon" --verbose --reuseaddr --informative-errors --listen=127.0.0.1 --port="$1" \
		--base-path="$GL_DIR/srv" --export-all --enable=receive-pack "$GL_DIR/srv" \
		</dev/null >>"$GL_DIR/daemon.log" 2>&1 &
	_gl_pid=$!
}

gitlab_daemon() {
	if ! _gl_start_retry _gl_start_daemon; then
		echo "gitlab_daemon: git daemon did not start; $GL_DIR/daemon.log:" >&2
		tail -n 20 "$GL_DIR/daemon.log" >&2
		return 1
	fi
	_gl_started "daemon-$_gl_port" "$_gl_pid"
	GL_GIT_URL_BASE=git://127.0.0.1:$_gl_port
}

gitlab_count_fetches() {
	if [ ! -f "$GL_DIR/daemon.log" ]; then
		echo 0
	elif [ $# -ge 1 ]; then
		grep -cF "Request upload-pack for '/$1.git'" "$GL_DIR/daemon.log" || true
	else
		grep -cF "Request upload-pack for '" "$GL_DIR/daemon.log" || true
	fi
}

_gl_start_http() {
	sed "s/@PORT@/$1/" "$_gl_hd/lighttpd.conf.in" >"$_gl_hd/lighttpd.conf" || return 1
	if ! _gl_out=$("$_gl_lighttpd" -tt -f "$_gl_hd/lighttpd.conf" 2>&1); then
		echo "gitlab_http: lighttpd -tt -f $_gl_hd/lighttpd.conf failed:" >&2
		echo "$_gl_out" >&2
		return 1
	fi
	"$_gl_lighttpd" -D -f "$_gl_hd/lighttpd.conf" </dev/null >>"$_gl_hd/stdout.log" 2>&1 &
	_gl_pid=$!
}

gitlab_http() {
	_gl_lighttpd=$(command -v lighttpd 2>/dev/null) || _gl_lighttpd=/usr/sbin/lighttpd
	[ -x "$_gl_lighttpd" ] || { echo "gitlab_http: lighttpd not installed" >&2; return 1; }
	_gl_backend=/usr/lib/git-core/git-http-backend
	[ -x "$_gl_backend" ] || _gl_backend=$(git --exec-path)/git-http-backend
	[ -x "$_gl_backend" ] || { echo "gitlab_http: no git-http-backend" >&2; return 1; }
	_gl_mode=plain
	[ "${1:-}" = auth ] && _gl_mode=auth
	[ "${1:-}" = tls ] && _gl_mode=tls
	_gl_hd=$GL_DIR/http-$_gl_mode
	[ -e "$_gl_hd" ] && { echo "gitlab_http: a $_gl_mode server was started already" >&2; return 1; }
	mkdir -p "$_gl_hd/docroot" "$_gl_hd/tmp" || return 1
	# The CGI: logs the request, then runs git-http-backend.
	cat >"$_gl_hd/git-cgi" <<-EOF
		#!/bin/sh
		echo "\$SERVER_PORT \$REQUEST_METHOD \$REQUEST_URI \${REMOTE_USER:--}" >>"$GL_DIR/http-requests.log"
		export GIT_PROJECT_ROOT="$GL_DIR/srv" GIT_HTTP_EXPORT_ALL=1
		export GIT_CONFIG_NOSYSTEM=1 HOME="$GL_DIR/home" XDG_CONFIG_HOME="$GL_DIR/home/.config"
		exec "$_gl_backend"
	EOF
	chmod 755 "$_gl_hd/git-cgi"
	cat >"$_gl_hd/lighttpd.conf.in" <<-EOF
		server.bind = "127.0.0.1"
		server.port = @PORT@
		server.document-root = "$_gl_hd/docroot"
		server.pid-file = "$_gl_hd/lighttpd.pid"
		server.errorlog = "$_gl_hd/error.log"
		server.upload-dirs = ("$_gl_hd/tmp")
		server.modules = ("mod_alias", "mod_setenv", "mod_auth", "mod_authn_file",
		                  "mod_cgi", "mod_accesslog")
		accesslog.filename = "$GL_DIR/http-access.log"
		accesslog.format = "%p %h %u %t \"%r\" %>s %b"
		alias.url = ("/git" => "$_gl_hd/git-cgi")
		\$HTTP["url"] =~ "^/git" {
		  cgi.assign = ("" => "")
		}
	EOF
	if [ $_gl_mode = tls ]; then
		[ -e /usr/lib/lighttpd/mod_openssl.so ] ||
			{ echo "gitlab_http: lighttpd-mod-openssl not installed" >&2; return 1; }
		# a throwaway CA and a certificate for 127.0.0.1 signed by it
		openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-days 2 -subj /CN=ferry-test-ca -keyout "$_gl_hd/ca.key" \
			-out "$_gl_hd/ca.pem" >/dev/null 2>&1 &&
			openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
				-subj /CN=localhost -keyout "$_gl_hd/server.key" \
				-out "$_gl_hd/server.csr" >/dev/null 2>&1 &&
			printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' >"$_gl_hd/ext" &&
			openssl x509 -req -in "$_gl_hd/server.csr" -CA "$_gl_hd/ca.pem" \
				-CAkey "$_gl_hd/ca.key" -CAcreateserial -days 2 \
				-extfile "$_gl_hd/ext" -out "$_gl_hd/server.pem" >/dev/null 2>&1 ||
			{ echo "gitlab_http: openssl could not make the certificates" >&2; return 1; }
		cat >>"$_gl_hd/lighttpd.conf.in" <<-EOF
			server.modules += ("mod_openssl")
			ssl.engine = "enable"
			ssl.pemfile = "$_gl_hd/server.pem"
			ssl.privkey = "$_gl_hd/server.key"
		EOF
	fi
	if [ $_gl_mode = auth ]; then
		echo "$GL_HTTP_USER:$GL_HTTP_PASSWORD" >"$_gl_hd/users"
		chmod 600 "$_gl_hd/users"
		cat >>"$_gl_hd/lighttpd.conf.in" <<-EOF
			auth.backend = "plain"
			auth.backend.plain.userfile = "$_gl_hd/users"
			auth.require = ("/" => ("method" => "basic", "realm" => "ferry-test",
			                        "require" => "valid-user"))
		EOF
	fi
	if ! _gl_start_retry _gl_start_http; then
		echo "gitlab_http: lighttpd did not start; $_gl_hd/error.log:" >&2
		tail -n 20 "$_gl_hd/error.log" "$_gl_hd/stdout.log" >&2 2>/dev/null
		return 1
	fi
	_gl_started "http-$_gl_mode" "$_gl_pid"
	GL_HTTP_PORT=$_gl_port
	GL_HTTP_URL_BASE=http://127.0.0.1:$_gl_port/git
	if [ $_gl_mode = tls ]; then
		# libgit2 1.5 with mbedTLS matches DNS names only, not IP
		# addresses, so the URL names localhost
		GL_HTTP_URL_BASE=https://localhost:$_gl_port/git
		GL_HTTP_CA=$_gl_hd/ca.pem
	fi
}

# Count http-requests.log lines of server GL_HTTP_PORT: method $1, URI
# $2 under /git/ (any repo if $3 is empty, else repo $3.git).
_gl_count_http() {
	awk -v port="$GL_HTTP_PORT" -v m="$1" -v rest="$2" -v repo="$3" '
		$1 == port && $2 == m {
			u = $3
			if (repo != "") { if (u == "/git/" repo ".git" rest) n++ }
			else if (substr(u, 1, 5) == "/git/" &&
			         substr(u, length(u) - length(rest) + 1) == rest) n++
		}
		END { print n + 0 }' "$GL_DIR/http-requests.log" 2>/dev/null || echo 0
	return 0
}
gitlab_count_http_fetches() { _gl_count_http POST /git-upload-pack "${1:-}"; }
gitlab_count_http_adverts() { _gl_count_http GET "/info/refs?service=git-upload-pack" "${1:-}"; }

_gl_start_sshd() {
	_gl_sd=$GL_DIR/ssh
	cat >"$_gl_sd/sshd_config" <<-EOF
		ListenAddress 127.0.0.1
		Port $1
		HostKey $_gl_sd/host_ed25519
		PidFile $_gl_sd/sshd.pid
		AuthorizedKeysFile $_gl_sd/authorized_keys
		PubkeyAuthentication yes
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		UsePAM no
		StrictModes no
		PermitRootLogin prohibit-password
		AllowUsers $(id -un)
		X11Forwarding no
		AllowTcpForwarding no
		PrintMotd no
		SetEnv GIT_CONFIG_NOSYSTEM=1 HOME=$GL_DIR/home XDG_CONFIG_HOME=$GL_DIR/home/.config
		LogLevel VERBOSE
	EOF
	if ! _gl_out=$(/usr/sbin/sshd -t -f "$_gl_sd/sshd_config" 2>&1); then
		echo "gitlab_sshd: sshd -t -f $_gl_sd/sshd_config failed:" >&2
		echo "$_gl_out" >&2
		return 1
	fi
	/usr/sbin/sshd -D -f "$_gl_sd/sshd_config" -E "$GL_DIR/sshd.log" </dev/null >/dev/null 2>&1 &
	_gl_pid=$!
}

gitlab_sshd() {
	[ "$(id -u)" = 0 ] || { echo "gitlab_sshd: not root, no sshd" >&2; return 1; }
	[ -x /usr/sbin/sshd ] || { echo "gitlab_sshd: /usr/sbin/sshd not installed" >&2; return 1; }
	if ! command -v ssh-keygen >/dev/null 2>&1 || ! command -v ssh >/dev/null 2>&1; then
		echo "gitlab_sshd: ssh or ssh-keygen not installed" >&2
		return 1
	fi
	_gl_sd=$GL_DIR/ssh
	mkdir -p "$_gl_sd" /run/sshd || return 1
	chmod 700 "$_gl_sd"
	[ -e "$_gl_sd/host_ed25519" ] ||
		ssh-keygen -q -t ed25519 -N '' -C gitlab-host -f "$_gl_sd/host_ed25519" || return 1
	[ -e "$_gl_sd/client_ed25519" ] ||
		ssh-keygen -q -t ed25519 -N '' -C gitlab-client -f "$_gl_sd/client_ed25519" || return 1
	cp "$_gl_sd/client_ed25519.pub" "$_gl_sd/authorized_keys"
	if ! _gl_start_retry _gl_start_sshd; then
		echo "gitlab_sshd: sshd did not start; $GL_DIR/sshd.log:" >&2
		tail -n 20 "$GL_DIR/sshd.log" >&2 2>/dev/null
		return 1
	fi
	_gl_started "sshd-$_gl_port" "$_gl_pid"
	GL_SSH_KEY=$_gl_sd/client_ed25519
	GL_SSH_KNOWN_HOSTS=$_gl_sd/known_hosts
	echo "[127.0.0.1]:$_gl_port $(cut -d' ' -f1-2 "$_gl_sd/host_ed25519.pub")" >"$GL_SSH_KNOWN_HOSTS"
	GL_SSH_PORT=$_gl_port
	GL_SSH_URL_BASE=ssh://$(id -un)@127.0.0.1:$_gl_port$GL_DIR/srv
	GL_SSH_COMMAND="ssh -F /dev/null -i $GL_SSH_KEY -o IdentitiesOnly=yes -o BatchMode=yes"
	GL_SSH_COMMAND="$GL_SSH_COMMAND -o UserKnownHostsFile=$GL_SSH_KNOWN_HOSTS"
	GL_SSH_COMMAND="$GL_SSH_COMMAND -o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null"
}

gitlab_human_commit() {
	[ $# -ge 3 ] || { echo "usage: gitlab_human_commit NAME FILE CONTENT [MESSAGE]" >&2; return 1; }
	_gl_h=$GL_DIR/human/$1
	_gl_msg=${4:-Human edits $2}
	if [ ! -d "$_gl_h/.git" ]; then
		git clone -q "$GL_DIR/srv/$1.git" "$_gl_h" 2>"$_gl_h.err" || { cat "$_gl_h.err" >&2; return 1; }
	fi
	_gl_try=0
	while :; do
		_gl_try=$((_gl_try + 1))
		git -C "$_gl_h" fetch -q origin 2>"$_gl_h.err" || { cat "$_gl_h.err" >&2; return 1; }
		if git -C "$_gl_h" rev-parse -q --verify refs/remotes/origin/main >/dev/null; then
			git -C "$_gl_h" checkout -q -f -B main refs/remotes/origin/main
		else # empty repo: start main anew
			git -C "$_gl_h" checkout -q -f --orphan main 2>/dev/null ||
				git -C "$_gl_h" symbolic-ref HEAD refs/heads/main
			git -C "$_gl_h" update-ref -d refs/heads/main 2>/dev/null || true
			git -C "$_gl_h" read-tree --empty
		fi
		git -C "$_gl_h" clean -q -fdx
		case $2 in */*) mkdir -p "$_gl_h/${2%/*}" ;; esac
		printf '%s\n' "$3" >"$_gl_h/$2" &&
			git -C "$_gl_h" add -A &&
			git -C "$_gl_h" commit -q --allow-empty -m "$_gl_msg" || return 1
		if git -C "$_gl_h" push -q origin main:main 2>"$_gl_h.err"; then
			git -C "$_gl_h" rev-parse HEAD
			return 0
		fi
		if [ $_gl_try -ge 20 ]; then
			echo "gitlab_human_commit: push to $1 failed $_gl_try times; last:" >&2
			cat "$_gl_h.err" >&2
			return 1
		fi
		sleep 0.0$(($(od -An -N1 -tu1 /dev/urandom) % 9 + 1))
	done
}

gitlab_cleanup() {
	[ -n "${GL_DIR:-}" ] && [ -d "$GL_DIR/run" ] || return 0
	for _gl_f in "$GL_DIR"/run/*.pid; do
		[ -s "$_gl_f" ] || continue
		_gl_stop "$(cat "$_gl_f")"
		rm -f "$_gl_f"
	done
	# Reap whatever else of ours is left (a server whose start failed).
	for _gl_p in $_gl_pids; do _gl_stop "$_gl_p"; done
	_gl_pids=
	return 0
}
