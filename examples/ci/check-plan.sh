#!/usr/bin/env bash
# The dry run of a change against a captured box, as a CI runner sees it: no upstart, no
# chkconfig, no box, nothing on PATH but /usr/bin:/bin. What cannot be checked there (job
# state, running processes, live kernel values) is counted apart, never as a change.
#
# The workflow in examples/ci/blotctl-plan.yml and this repository's own .ci/run both run
# this script, so the recipe in README ("Checking changes in CI") cannot rot.
#
# usage: check-plan.sh BLOTCTL BOX OUT [blotctl options...]
#   BLOTCTL  the blotctl to run (the portable build: cargo xtask dist -> target/dist/blotctl)
#   BOX      a capture of the box: `sudo blotctl capture box.tar.gz` run on it (a .tar, a
#            .tar.gz, or the directory `blotctl capture DIR` wrote)
#   OUT      a directory for the plan: plan.txt, plan.json (schema/blotctl.schema.json) and
#            plan.xml (JUnit: a test case per step, a pending change fails its step)
#   options  the change under review, e.g. --config ci/blotctl.toml or --set monit_interval=15
#
# Run it as root (sudo): only root restores the tarball's owners, and the box's sudoers is
# root's (0440).
# Exit status: blotctl's: 0 the box's files are as planned, 2 changes pending (review
# OUT/plan.txt), 1 an error (a setting that contradicts the box, a refused plan), 64 usage.
set -euo pipefail
[ $# -ge 3 ] || { sed -n '9,22p' "$0" >&2; exit 64; }
blotctl=$(realpath "$1")
box=$2
out=$3
shift 3
mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if [ -d "$box" ]; then
    tree=$box
else
    tar --same-owner -xpf "$box" -C "$work"
    tree=$work
fi
plan() {
    env -i PATH=/usr/bin:/bin "$blotctl" --root "$tree" provision --dry-run "$@"
}
code=0
plan "$@" >"$out/plan.txt" || code=$?
plan --json "$@" >"$out/plan.json" || true
plan --format junit "$@" >"$out/plan.xml" || true
cat "$out/plan.txt"
case $code in
    0) echo "check-plan: the box's files are as planned (exit 0)" ;;
    2) echo "check-plan: changes pending, review them above or in $out/plan.txt (exit 2)" ;;
    *) echo "check-plan: blotctl failed (exit $code)" ;;
esac
exit $code
