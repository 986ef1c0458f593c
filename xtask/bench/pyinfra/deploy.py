"""`blotctl provision`'s desired state, written as a pyinfra deploy, for `cargo xtask bench`.

The bench times this deploy beside blotctl on copies of the same fixture box, with the same
fake chkconfig and initctl (fixtures/bin, first on PATH), and checks that it converges to
what blotctl makes: afterwards `blotctl provision --dry-run` finds nothing to change on the
copy, and the copy's tree is blotctl's own provisioned box, file for file (bench/pyinfra.rs).

It is run as (see xtask/src/bench/pyinfra.rs)

    unshare --mount --propagation private -- /bin/sh box-users.sh BOX \
        pyinfra -y @local deploy.py --data render=RENDER_JSON

- box-users.sh sets BLOTCTL_ROOT=BOX, and every path below is under it (the fakes act on
  the same tree), never this machine's own /etc: the deploy refuses to start without a box
  there. It also binds the box's /etc/passwd and /etc/group over this machine's in that
  private mount namespace, so that `ec2-user` is the box's user (uid 500), as pyinfra's
  `chown` and `stat` would see it on the box.
- The rendered files (the four upstart jobs, redis-host-settings, monit.rc, the logrotate
  file) are the bytes `blotctl render --json` prints for that box (RENDER_JSON): the same
  inputs blotctl writes.
- The rest is written here as a pyinfra user would write it, with blotctl's default
  settings; the bench checks the result against blotctl's own provisioned box. With those
  defaults (`sites` empty) /etc/hosts needs nothing: a fresh box already maps localhost to
  127.0.0.1, which is all monit needs, so there is no hosts operation.

What pyinfra does not do that blotctl does (the bench report says so too): no `visudo -c`
of the new sudoers before it replaces it (`files.line` runs `sed -i`), no lint of the job
files before `initctl reload-configuration`, no write-ahead backup for a rollback, no
re-look after applying, and `files.put` on @local copies over the file in place (`cp`),
not by an atomic rename.
"""

import io
import json
import os

from pyinfra import host
from pyinfra.api import FactBase, operation
from pyinfra.operations import files, server, upstart
from pyinfra.operations.util import any_changed

# blotctl's defaults (src/config.rs): the app user and directory, the site's names.
APP_USER = "ec2-user"
APP_DIR = "/var/www/blot"
SYSV_SERVICES = ["redis", "nginx", "monit"]
JOBS = ["redis", "blot", "nginx", "monit"]
MODES = {"/etc/monit.rc": "700"}
# Blot's configs in its checkout (config/), copied to /etc/blot.
BLOT_CONFIGS = ["nginx.conf", "nginx/proxy.conf", "redis.conf"]

ROOT = os.environ.get("BLOTCTL_ROOT", "")
if (
    not os.path.isabs(ROOT)
    or os.path.realpath(ROOT) == "/"
    or not os.path.isfile(os.path.join(ROOT, "etc/blotctl.toml"))
):
    raise SystemExit(
        "deploy.py: BLOTCTL_ROOT must name a box copy (a directory with etc/blotctl.toml), "
        f"not {ROOT!r}: this deploy never touches this machine's own /etc"
    )


def box(path):
    """A box path under the box copy."""
    return ROOT + path


class ChkconfigOn(FactBase):
    """The runlevels in which a SysV service starts, from `chkconfig --list NAME`:
    `redis  0:off 1:off 2:on 3:on 4:on 5:on 6:off` gives ["2", "3", "4", "5"]."""

    def requires_command(self, service):
        return "chkconfig"

    def command(self, service):
        return f"chkconfig --list {service}"

    def process(self, output):
        return [f.split(":")[0] for f in output[0].split()[1:] if f.endswith(":on")]


@operation()
def chkconfig_off(service):
    """`chkconfig NAME off` unless it is off in every runlevel already."""
    if host.get_fact(ChkconfigOn, service=service):
        yield f"chkconfig {service} off"
    else:
        host.noop(f"{service} is off in every runlevel")


with open(host.data.render) as f:
    rendered = json.load(f)["files"]

files.line(
    name="sudoers: comment out Defaults requiretty",
    path=box("/etc/sudoers"),
    line=r"^Defaults\s\+requiretty",
    replace="#Defaults    requiretty",
)

jobs_changed = []
for f in rendered:
    op = files.put(
        name=f"{f['path']}",
        src=io.StringIO(f["text"]),
        dest=box(f["path"]),
        user="root",
        group="root",
        mode=MODES.get(f["path"], "644"),
    )
    if f["path"].startswith("/etc/init/"):
        jobs_changed.append(op)

# Root-owned copies of Blot's own configs, which the jobs run (the checkout is the app
# user's): its nginx.conf with what it includes, and its redis.conf.
for d in ["/etc/blot", "/etc/blot/nginx"]:
    files.directory(name=f"{d}/", path=box(d), user="root", group="root", mode="755")
for conf in BLOT_CONFIGS:
    files.put(
        name=f"/etc/blot/{conf}",
        src=box(f"{APP_DIR}/config/{conf}"),
        dest=box(f"/etc/blot/{conf}"),
        user="root",
        group="root",
        mode="644",
    )

files.directory(
    name="the app's log directory",
    path=box(f"{APP_DIR}/logs"),
    user=APP_USER,
    group=APP_USER,
    mode="755",
)
files.directory(
    name="root's log directory for nginx and monit",
    path=box("/var/log/blot"),
    user="root",
    group="root",
    mode="755",
)
for log in ["app.log", "sys.log"]:
    files.file(
        name=f"log file {log}",
        path=box(f"{APP_DIR}/logs/{log}"),
        user=APP_USER,
        group=APP_USER,
        mode="644",
    )

files.line(
    name="sysctl.conf: vm.overcommit_memory = 1",
    path=box("/etc/sysctl.conf"),
    line=r"^vm.overcommit_memory\s*=",
    replace="vm.overcommit_memory = 1",
)

for service in SYSV_SERVICES:
    chkconfig_off(name=f"chkconfig {service} off", service=service)

server.shell(
    name="initctl reload-configuration",
    commands=["initctl reload-configuration"],
    _if=any_changed(*jobs_changed),
)

for job in JOBS:
    upstart.service(name=f"start {job}", service=job, running=True)
