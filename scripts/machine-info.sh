#!/usr/bin/env bash
# Prints what a benchmark figure depends on, as `key: value` lines for scripts/bench-report.py.
set -uo pipefail
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "cores: $(nproc)"
echo "memory: $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)"
echo "os: $(uname -sr)"
echo "rustc: $(rustc --version)"
echo "date: $(date -u '+%Y-%m-%d %H:%M UTC')"
echo "load: $(cut -d' ' -f1-3 /proc/loadavg)"
