"""Job control of an interactive shell on a terminal: process groups, the terminal's
foreground, ^Z, and the builtins `jobs`, `fg`, `bg` and `%N`.

Each pipeline, simple command or subshell that the interactive shell forks (not a
command substitution) is a job: its processes form one process group (the first
child's pid), set by the parent and the child both, so neither can run ahead of it. A
foreground job gets the terminal (tcsetpgrp), so ^C and ^Z from the tty reach it and
not the shell; the shell waits with WUNTRACED, and takes the terminal back when the
job ends or stops. A stopped job (^Z: SIGTSTP) is "Stopped" in the table; `fg` gives
it the terminal and SIGCONT, `bg` only SIGCONT; an `&` job is a job too, never in the
foreground. The shell itself ignores SIGTSTP, SIGTTIN and SIGTTOU; its children take
the defaults back.
"""
from __future__ import annotations

import os
import signal
from dataclasses import dataclass, field

from .process import exit_code

__all__ = ["Job", "fork", "wait", "background", "reap", "orphan", "JOB_BUILTINS",
           "WUNTRACED", "setup", "as_child"]

WUNTRACED, WNOHANG = 2, 1
TTY = 0                                      # the fd whose terminal jobs take turns on


@dataclass
class Job:
    no: int
    pgid: int
    pids: list
    text: str
    state: str = "Running"                   # Running, Stopped
    left: set = field(default_factory=set)   # pids not ended yet
    status: int = 0                          # the last process's exit code


def on(sh) -> bool:
    """Job control: an interactive shell, not a child of one."""
    return sh.interactive and not sh.in_child


def setup(sh) -> None:
    """The interactive shell: its own group, the terminal's foreground, deaf to ^Z."""
    sys = sh.sys
    for sig in (signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU):
        sys.signal(sig, signal.SIG_IGN)
    try:
        sys.setpgid(0, 0)
        sh.pgrp = sys.getpgrp()
        sys.tcsetpgrp(TTY, sh.pgrp)
    except OSError:
        sh.pgrp = 0


def as_child(sh) -> None:
    """In a child of the interactive shell: the stop signals' defaults back."""
    for sig in (signal.SIGTSTP, signal.SIGTTIN, signal.SIGTTOU):
        sh.sys.signal(sig, signal.SIG_DFL)


def fork(sh) -> int:
    """fork; with job control the child joins the job's group (the first child's)."""
    pid = sh.sys.fork()
    if not on(sh) or not sh.pgrp:
        return pid
    group = sh.job_pgid or (pid or sh.sys.getpid())
    try:
        sh.sys.setpgid(pid, group)           # pid 0: the child itself
    except OSError:
        pass                                 # it has exec'd or ended: it is in already
    if pid:
        sh.job_pgid = group
    return pid


def wait(sh, pids: list) -> int:
    """Wait for a foreground job's processes: the last one's exit code, or 128 +
    SIGTSTP when ^Z stopped it (it is then in the table)."""
    if not on(sh) or not sh.pgrp or not sh.job_pgid:
        status = 0
        for pid in pids:
            status = sh.wait_for(pid)
        return status
    job = Job(0, sh.job_pgid, list(pids), sh.job_text, left=set(pids))
    sh.job_pgid = None
    return foreground(sh, job)


def foreground(sh, job: Job) -> int:
    """Give `job` the terminal, wait until it ends or stops, take the terminal back."""
    sys = sh.sys
    _tcsetpgrp(sh, job.pgid)
    try:
        while job.left:
            try:
                pid, st = sys.waitpid(-job.pgid, WUNTRACED)
            except OSError:
                break                        # none left (ECHILD)
            if os.WIFSTOPPED(st):
                job.state = "Stopped"
                break
            job.left.discard(pid)
            sh.jobs.discard(pid)
            if pid == job.pids[-1]:
                job.status = exit_code(st)
    finally:
        _tcsetpgrp(sh, sh.pgrp)
    if job.state == "Stopped":
        _enter(sh, job)
        sh.write(2, f"[{job.no}]+  Stopped                 {job.text}\n")
        return 128 + signal.SIGTSTP
    sh.jobtab.pop(job.no, None)
    return job.status


def background(sh, pid: int) -> None:
    """An `&` job was forked: into the table, `[N] pid` said."""
    job = Job(0, sh.job_pgid or pid, [pid], sh.job_text, left={pid})
    sh.job_pgid = None
    _enter(sh, job)
    sh.write(2, f"[{job.no}] {pid}\n")


def reap(sh) -> None:
    """Before a prompt: say which jobs have ended, and forget them."""
    for no, job in sorted(sh.jobtab.items()):
        while job.left:
            try:
                pid, st = sh.sys.waitpid(-job.pgid, WNOHANG)
            except OSError:
                job.left.clear()
                break
            if not pid:
                break
            job.left.discard(pid)
            sh.jobs.discard(pid)
        if not job.left:
            del sh.jobtab[no]
            sh.write(2, f"[{no}]+  Done                    {job.text}\n")


def orphan(sh) -> None:
    """The shell is leaving: its stopped jobs would be stopped for ever (an orphaned
    group), so, as the kernel of Unix does for one, they get SIGHUP and SIGCONT."""
    for job in sh.jobtab.values():
        if job.state == "Stopped":
            for sig in (signal.SIGHUP, signal.SIGCONT):
                try:
                    sh.sys.kill(-job.pgid, sig)
                except OSError:
                    pass


def _enter(sh, job: Job) -> None:
    if not job.no:
        job.no = max(sh.jobtab, default=0) + 1
    sh.jobtab[job.no] = job


def _tcsetpgrp(sh, pgrp: int) -> None:
    try:
        sh.sys.tcsetpgrp(TTY, pgrp)
    except OSError:
        pass


def _find(sh, name: str, argv: list) -> Job | None:
    """The job `argv[1]` names (%N, %%, %+, none: the newest), or None, said."""
    spec = argv[1] if len(argv) > 1 else "%%"
    no = max(sh.jobtab, default=0) if spec in ("%%", "%+", "%") else \
        int(spec[1:]) if spec[:1] == "%" and spec[1:].isdigit() else -1
    job = sh.jobtab.get(no)
    if job is None:
        sh.error(f"{name}: {spec}: no such job")
    return job


def b_jobs(sh, argv) -> int:
    newest = max(sh.jobtab, default=0)
    for no, job in sorted(sh.jobtab.items()):
        mark = "+" if no == newest else " "
        sh.write(1, f"[{no}]{mark}  {job.state:<22}  {job.text}\n")
    return 0


def b_fg(sh, argv) -> int:
    job = _find(sh, "fg", argv)
    if job is None:
        return 1
    sh.write(1, job.text + "\n")
    _tcsetpgrp(sh, job.pgid)
    job.state = "Running"
    _continue(sh, job)
    return foreground(sh, job)


def b_bg(sh, argv) -> int:
    job = _find(sh, "bg", argv)
    if job is None:
        return 1
    job.state = "Running"
    _continue(sh, job)
    sh.write(1, f"[{job.no}]+ {job.text} &\n")
    return 0


def _continue(sh, job: Job) -> None:
    try:
        sh.sys.kill(-job.pgid, signal.SIGCONT)
    except OSError:
        pass                                 # it has ended meanwhile


JOB_BUILTINS = {"jobs": b_jobs, "fg": b_fg, "bg": b_bg}
