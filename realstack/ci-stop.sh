#!/bin/bash
# CI teardown: stop exactly the processes realstack/start.sh recorded (see stop.sh).
exec "$(cd "$(dirname "$0")" && pwd)/stop.sh" "$@"
