# shellcheck shell=bash
# Helpers shared by the scripts that run a local server (scripts/kafka.sh, scripts/postgres.sh,
# scripts/prometheus.sh). Sourced, never run; defines functions only, sets no shell options.
#
# The sourcing script sets, before the first call that needs them:
#   SERVICE_LOG_PREFIX   prefix of every log line, e.g. "kafka.sh[9092]"
#   SERVICE_COMMANDS     array of the commands service_main accepts, e.g. (start stop status)
#
#   log MESSAGE...              "PREFIX: MESSAGE" on stderr
#   die MESSAGE...              log "error: MESSAGE", exit 1
#   usage                       the sourcing script's header comment (line 2 up to "set -euo")
#   service_main COMMAND [ARGS...]
#                               run the command line's command (see below)
#   is_root                     exit 0 when running as root
#   as_root COMMAND...          run COMMAND as root (directly, or with sudo), or die
#   apt_install PACKAGE...      apt-get install (output on stderr), retried 5 times with
#                               package-list updates in between (another apt holding the lock,
#                               stale lists), or die
#   port_open HOST PORT         exit 0 when something accepts TCP connections there
#   service_spawn PID_FILE LOG_FILE COMMAND...
#                               run COMMAND in the background detached from the terminal, output
#                               appended to LOG_FILE; its pid in PID_FILE and in SERVICE_PID
#   service_pid PID_FILE NEEDLE print the pid PID_FILE holds if that process runs and its command
#                               line (arguments joined by spaces) contains NEEDLE, so a reused
#                               pid is never taken for ours; exit 1 otherwise
#   service_wait PID TIMEOUT INTERVAL CHECK...
#                               run CHECK every INTERVAL seconds until it succeeds (exit 0), the
#                               process PID is gone (exit 1; PID "" watches no process) or
#                               TIMEOUT seconds have passed (exit 2)
#   service_terminate PID TIMEOUT
#                               SIGTERM, SIGKILL if still running after TIMEOUT seconds; returns
#                               once the process is gone
#   stop_args ARGS...           parse "stop [--purge]": PURGE=1 or 0; die on anything else
#   service_logs LOG_FILE [TAIL-ARGS...]
#                               tail LOG_FILE (default: tail -n 200), or die when there is none
#
# service_main COMMAND [ARGS...] runs the script's function cmd_COMMAND (dashes as underscores)
# with ARGS when COMMAND is in SERVICE_COMMANDS, except: clean is cmd_stop --purge, restart is
# cmd_stop then cmd_start. help, -h and --help print the usage; no or any other command prints it
# on stderr and exits 2.

SERVICE_SCRIPT=${BASH_SOURCE[1]:-$0}

log() { printf '%s: %s\n' "$SERVICE_LOG_PREFIX" "$*" >&2; }
die() { log "error: $*"; exit 1; }

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$SERVICE_SCRIPT"; }

service_main() {
    local cmd=${1:-} known
    (($#)) && shift
    case $cmd in
        -h | --help | help) usage; return 0 ;;
    esac
    for known in "${SERVICE_COMMANDS[@]}"; do
        [[ $cmd == "$known" ]] || continue
        case $cmd in
            clean) cmd_stop --purge ;;
            restart) cmd_stop; cmd_start ;;
            *) "cmd_${cmd//-/_}" "$@" ;;
        esac
        return
    done
    usage >&2
    exit 2
}

# ------------------------------------------------------------- install -------

is_root() { [[ $(id -u) -eq 0 ]]; }

as_root() {
    if is_root; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die "need root (or sudo) to run: $*"
    fi
}

apt_install() {
    local try
    for try in 1 2 3 4 5; do
        if as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
                -o DPkg::Lock::Timeout=300 "$@" >&2; then
            return 0
        fi
        log "apt-get install $* failed (try $try); updating package lists and retrying"
        as_root apt-get update -q -o DPkg::Lock::Timeout=300 >&2 || true
        sleep $((try * 5))
    done
    die "could not install: $*"
}

# ------------------------------------------------------------- process -------

port_open() { (exec 3<>"/dev/tcp/$1/$2") 2>/dev/null; }

service_spawn() {
    local pid_file=$1 log_file=$2
    shift 2
    nohup "$@" >>"$log_file" 2>&1 </dev/null &
    SERVICE_PID=$!
    echo "$SERVICE_PID" >"$pid_file"
}

service_pid() {
    local pid_file=$1 needle=$2 pid cmdline
    [[ -f $pid_file ]] || return 1
    pid=$(<"$pid_file")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    cmdline=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    [[ $cmdline == *"$needle"* ]] || return 1
    echo "$pid"
}

service_wait() {
    local pid=$1 deadline=$((SECONDS + $2)) interval=$3
    shift 3
    while :; do
        if [[ -n $pid ]] && ! kill -0 "$pid" 2>/dev/null; then return 1; fi
        "$@" && return 0
        ((SECONDS < deadline)) || return 2
        sleep "$interval"
    done
}

service_terminate() {
    local pid=$1 timeout=$2
    kill -TERM "$pid" 2>/dev/null || true
    local deadline=$((SECONDS + timeout))
    while kill -0 "$pid" 2>/dev/null && ((SECONDS < deadline)); do
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "still running after ${timeout} s; sending SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        while kill -0 "$pid" 2>/dev/null; do sleep 0.1; done
    fi
}

# ------------------------------------------------------------- commands ------

# shellcheck disable=SC2034  # PURGE is for the sourcing script
stop_args() {
    PURGE=0
    KILL=0
    local arg
    for arg in "$@"; do
        case $arg in
            --purge) PURGE=1 ;;
            --kill) KILL=1 ;;
            *) die "stop: unknown argument '$arg'" ;;
        esac
    done
}

service_logs() {
    local log_file=$1
    shift
    [[ -f $log_file ]] || die "no log file $log_file"
    if (($#)); then tail "$@" "$log_file"; else tail -n 200 "$log_file"; fi
}
