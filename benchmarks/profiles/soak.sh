#!/usr/bin/env bash
# soak load profile: see run.sh (SHORT=1 for the 10-20 s version).
exec "$(dirname "$0")/run.sh" soak "$@"
