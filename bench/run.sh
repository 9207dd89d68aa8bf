#!/usr/bin/env bash
# Scenario 5 holds 10,000 sockets in one server process and as many in the load process: raise the
# open-file limit as far as this shell may (65536, else the hard limit), for us and every child.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"
exec node --import tsx "$(dirname "$0")/run.ts" "$@"
