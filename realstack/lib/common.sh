# Helpers shared by start.sh and stop.sh (sourced, not run).
#
# Everything here waits on a condition with a deadline (in seconds, via bash's
# SECONDS) instead of sleeping a fixed time: on a busy 2-core machine a service
# may take many times longer than usual to start or stop, and a fixed sleep is
# either too short there or wasted everywhere else.

# alive PID: the process exists and is not a zombie. Processes start.sh launched
# are re-parented when it exits; where PID 1 does not reap (some containers), a
# dead service stays a zombie forever and `kill -0` alone would call it running.
alive() {
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state=$(sed -n 's/^.*) \(.\).*$/\1/p' "/proc/$1/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ] && [ "$state" != X ]
}

# wait_gone SECONDS PID...: wait until none of the PIDs is alive; prints the
# survivors and fails if some are still alive at the deadline.
wait_gone() {
    local deadline=$((SECONDS + $1)) pid left
    shift
    while :; do
        left=()
        for pid in "$@"; do alive "$pid" && left+=("$pid"); done
        [ ${#left[@]} -eq 0 ] && return 0
        if [ $SECONDS -ge $deadline ]; then
            echo "${left[*]}"
            return 1
        fi
        sleep 0.2
    done
}

# holders_of DIR: PIDs of processes (other than this shell) with an open file, or
# their working directory, under DIR. Found by what they use, never by name.
holders_of() {
    local dir=${1%/}
    # find fails when a process ends while it looks (or for /proc entries it may not
    # read): that must not make the caller, under `set -o pipefail`, see "no holders".
    {
        find /proc/[0-9]*/fd -maxdepth 1 -lname "$dir/*" 2>/dev/null || true
        find /proc/[0-9]*/cwd -maxdepth 0 \( -lname "$dir" -o -lname "$dir/*" \) 2>/dev/null || true
    } | cut -d/ -f3 | sort -un | while read -r pid; do
        if [ "$pid" != "$$" ] && alive "$pid"; then echo "$pid"; fi
    done
    return 0
}

# describe PID...: one line per process, for error messages.
describe() {
    local pid
    for pid in "$@"; do
        printf '  %s: %s\n' "$pid" "$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | cut -c1-200)"
    done
}

# remove_tree SECONDS PATH...: rm -rf, retried until the deadline. A process that
# is still shutting down may create a file after rm emptied a directory, so that
# rm fails with "Directory not empty"; the next attempt removes what it wrote.
remove_tree() {
    local deadline=$((SECONDS + $1))
    shift
    until rm -rf -- "$@" 2>/dev/null; do
        if [ $SECONDS -ge $deadline ]; then
            rm -rf -- "$@"  # once more, with its message
            return
        fi
        sleep 1
    done
}
