#!/usr/bin/env bash
# tv-monitor-flow load profile: see run.sh (SHORT=1 for the 10-20 s version).
exec "$(dirname "$0")/run.sh" tv-monitor-flow "$@"
