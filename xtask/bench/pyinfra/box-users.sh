#!/bin/sh
# box-users.sh BOX COMMAND...: run COMMAND (pyinfra) on the box copy BOX as if on the box:
# BLOTCTL_ROOT=BOX in its environment (deploy.py and the fake chkconfig and initctl act on
# that tree), and the box's etc/passwd and etc/group bound, read-only, over this machine's,
# so that `chown ec2-user` and `stat -c %U` see the box's ec2-user (uid 500) as they would
# on the box itself. `cargo xtask bench` runs it as
#     unshare --mount --propagation private -- /bin/sh box-users.sh BOX pyinfra ...
# Only inside a private mount namespace, one its parent is not in: anywhere else the binds
# would hide this machine's own /etc/passwd, so it refuses.
set -eu
if [ "$(readlink /proc/self/ns/mnt)" = "$(readlink "/proc/$PPID/ns/mnt")" ]; then
    echo "box-users.sh: not in a mount namespace of its own (run it under unshare --mount)" >&2
    exit 1
fi
case "${1:-}" in
    /?*) ;;
    *)
        echo "box-users.sh: BOX must be the absolute path of a box copy, not '${1:-}'" >&2
        exit 1
        ;;
esac
BLOTCTL_ROOT=$1
export BLOTCTL_ROOT
shift
mount --bind -r "$BLOTCTL_ROOT/etc/passwd" /etc/passwd
mount --bind -r "$BLOTCTL_ROOT/etc/group" /etc/group
exec "$@"
