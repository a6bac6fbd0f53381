"""Debian root file systems for runtime base images: the RootfsBuilder interface and mmdebstrap behind it."""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from lambda_emu.errors import ImageError

LOG = logging.getLogger(__name__)
LineSink = Callable[[str], None]


class RootfsBuilder(Protocol):
    """Makes a Debian root filesystem tarball; `recipe` names everything that shapes its content (but the
    architecture, which callers hash themselves). `arch` is dpkg's name; None: this machine's."""

    recipe: str

    def build(
        self, suite: str, packages: tuple[str, ...], dest: Path, on_line: LineSink, *, arch: str | None = None
    ) -> None: ...


class Mmdebstrap:
    """RootfsBuilder running mmdebstrap (root or unshare mode); needs Debian's mirror, no registry."""

    _MERGED_USR_HOOKS = Path("/usr/share/mmdebstrap/hooks/merged-usr")
    # Suites from before merged /usr (bullseye and older) lack the usr-is-merged package the hooks install,
    # and pull in neither usrmerge nor perl without them: they are built split, as Debian made them.
    _SPLIT_USR_SUITES = frozenset({"buster", "bullseye"})
    # Testing and unstable sign their Release files valid for a week only; a mirror that serves a snapshot
    # of them (as this project's does) is then refused as expired. Signatures are still checked.
    _ROLLING_SUITES = frozenset({"forky", "sid", "testing", "unstable"})
    _TAIL = 20

    def __init__(self, executable: str = "mmdebstrap") -> None:
        self.executable = executable
        self.options = [
            "--variant=apt",
            # Docs, manuals and translations are a third of a slim Debian and no function reads them.
            *(f"--dpkgopt=path-exclude=/usr/share/{d}/*" for d in ("doc", "man", "locale", "info")),
            "--dpkgopt=path-include=/usr/share/doc/*/copyright",
        ]
        self._hooks = [f"--hook-dir={self._MERGED_USR_HOOKS}"] if self._MERGED_USR_HOOKS.is_dir() else []
        # Set up merged /usr as debootstrap does; otherwise bookworm pulls in usrmerge and all of perl. The
        # recipe is the one of the usual suites; the suite itself is hashed beside it by the callers.
        self.recipe = " ".join(["mmdebstrap", *self.options, *self._hooks])

    def suite_options(self, suite: str) -> list[str]:
        """The options for `suite`: the common ones, the merged-/usr hooks unless it predates them, and no
        Valid-Until check for the rolling suites."""
        hooks = [] if suite in self._SPLIT_USR_SUITES else self._hooks
        rolling = ['--aptopt=Acquire::Check-Valid-Until "false"'] if suite in self._ROLLING_SUITES else []
        return [*self.options, *hooks, *rolling]

    def build(
        self, suite: str, packages: tuple[str, ...], dest: Path, on_line: LineSink, *, arch: str | None = None
    ) -> None:
        exe = shutil.which(self.executable)
        if exe is None:
            raise ImageError(
                "mmdebstrap is not installed: it makes the Debian base of runtime images.",
                hint="Install it (apt-get install mmdebstrap), or use a registry image: --base registry.",
            )
        # A foreign --arch runs the packages' maintainer scripts under qemu-user (binfmt_misc).
        arch_option = [f"--arch={arch}"] if arch else []
        command = [
            exe, *self.suite_options(suite), *arch_option, f"--include={','.join(packages)}", suite, str(dest)
        ]  # fmt: skip
        LOG.info("running %s", " ".join(command))
        tail: deque[str] = deque(maxlen=self._TAIL)
        # Its own process group: mmdebstrap's main process ignores signals while a worker runs, so
        # stopping it means signalling the workers too (a terminal's Ctrl-C would reach only us).
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )
        try:
            assert proc.stderr is not None
            for raw in proc.stderr:
                line = raw.rstrip()
                tail.append(line)
                on_line(line)
            code = proc.wait()
        except BaseException:  # Ctrl-C included: never leave mmdebstrap writing into a removed folder
            self._stop(proc)
            raise
        if code != 0:
            shown = "\n".join(f"  {line}" for line in tail)
            raise ImageError(
                f"mmdebstrap failed (exit status {code}) making a Debian {suite} root file system:\n{shown}",
                hint="Check that Debian's package mirror is reachable, or use --base registry.",
            )

    @staticmethod
    def _stop(proc: subprocess.Popen[str]) -> None:
        """SIGTERM the group so mmdebstrap unmounts and removes its chroot; SIGKILL as a last resort."""
        for sig, grace in ((signal.SIGTERM, 60.0), (signal.SIGKILL, 10.0)):
            try:
                os.killpg(proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=grace)
                return
            except subprocess.TimeoutExpired:
                LOG.warning("mmdebstrap (pid %d) outlived signal %s", proc.pid, sig.name)
