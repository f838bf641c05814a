#!/bin/bash
# The runner's watchdog (runner/process.ts): outlives a runner that is killed and cleans up
# after it. The command provider kills a command that times out or is cancelled with SIGKILL
# (pulumi-command 1.2.1: exec.CommandContext without Cancel), so no handler of the runner runs:
# its private directories (a key, a Docker config with the registry password) would stay and
# its ssh and docker children run on. Node offers no PR_SET_PDEATHSIG; a pipe does the same:
# the runner holds the write end of this script's standard input, which the kernel closes
# however the runner ends.
#
# Standard input, one line each:  dir PATH   a private directory to remove
#                                 pid N      a child the runner started as its own process group
#                                 exit N     that child has ended
#                                 done       the runner cleaned up itself: nothing to do
# At end of input the watchdog sends SIGTERM to each live child's process group and removes
# every directory.
set -u

dirs=""
pids=" "
while IFS= read -r line; do
    case $line in
        "dir "*) dirs="$dirs${line#dir }
" ;;
        "pid "*) pids="$pids${line#pid } " ;;
        "exit "*) pids=$(printf '%s' "$pids" | sed "s/ ${line#exit } / /") ;;
        done) exit 0 ;;
    esac
done
for pid in $pids; do
    case $pid in
        *[!0-9]*) ;;
        *) kill -TERM -- "-$pid" 2>/dev/null ;;
    esac
done
printf '%s' "$dirs" | while IFS= read -r dir; do
    case $dir in
        /*) rm -rf -- "$dir" ;;
    esac
done
