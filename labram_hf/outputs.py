"""Outputs that never destroy anything: checked before the work, written aside, moved into place atomically.

Every command that writes a directory or a file (``labram prepare``, ``convert``, ``push --dry-run``, ``embed``,
``predict``, ``export-onnx``) goes through :class:`OutputTarget`::

    with OutputTarget(args.output, inputs=[args.checkpoint], overwrite=args.overwrite) as out:   # checks now
        write_everything_into(out.work)        # a hidden ``.NAME.partial-PID-XXXX`` beside the target
        out.commit()                           # checks again, then one rename

The rules:

* checked *before* any computation: the target's parent is a writable directory (not a file, not missing rights);
  the target is not one of the inputs and does not contain one; with ``overwrite`` a directory target may not lie
  inside an input directory either;
  an existing, non-empty target needs ``overwrite=True``, and even then is only replaced when this tool created
  it (a ``.labram-output`` marker inside) or it is empty;
* one writer per target: a lock file ``.NAME.lock`` beside the target (``fcntl.flock``); a second process writing
  the same target fails at once with an error naming the holder;
* the result is written into a hidden work path beside the target and moved into place in one ``os.replace`` /
  ``os.rename``; just before, the target is checked again: if it appeared meanwhile (or changed from what was
  checked), the commit fails and leaves it untouched;
* failures remove the work path; work paths left behind by killed processes (``.NAME.partial-PID-*`` whose PID is
  no longer running) are removed by the next write of the same target;
* directories are created with the process umask (normal permissions, not ``mkdtemp``'s 0700).
"""

from __future__ import annotations

import errno
import json
import os
import re
import shutil
import time
import uuid
from collections.abc import Iterable
from pathlib import Path

from .errors import LaBraMError

__all__ = ["MARKER_FILE", "OutputError", "OutputTarget", "check_not_overlapping"]

#: Written into every directory this package creates as an output; only such directories are ever replaced.
MARKER_FILE = ".labram-output"


class OutputError(LaBraMError):
    """An output path that cannot be written safely."""


def _resolve(path: str | os.PathLike) -> Path:
    return Path(os.path.abspath(os.path.expanduser(os.fspath(path)))).resolve()


def _inside(child: Path, parent: Path) -> bool:
    return child == parent or parent in child.parents


def check_not_overlapping(
    target: str | os.PathLike, inputs: Iterable[str | os.PathLike], what: str = "output", *, inside_ok: bool = False
) -> None:
    """Raise :class:`OutputError` when ``target`` is, contains or (unless ``inside_ok``) lies inside an input."""
    tgt = _resolve(target)
    for item in inputs:
        if item is None:
            continue
        src = _resolve(item)
        if tgt == src:
            raise OutputError(f"{what} {target} is the input {item}", hint="write the output somewhere else")
        if _inside(src, tgt):
            raise OutputError(
                f"{what} {target} contains the input {item}; replacing it would delete the input",
                hint="write the output to a new directory that holds none of the inputs",
            )
        if not inside_ok and src.is_dir() and _inside(tgt, src):
            raise OutputError(
                f"{what} {target} lies inside the input directory {item}",
                hint="write the output outside the input directories",
            )


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _is_empty_dir(path: Path) -> bool:
    try:
        return path.is_dir() and not any(path.iterdir())
    except OSError:
        return False


def _snapshot(path: Path) -> tuple | None:
    """What is at ``path`` now: None (nothing), or (kind, inode, marker) to detect changes."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    marker = (path / MARKER_FILE).is_file() if path.is_dir() else False
    return ("dir" if path.is_dir() else "file", st.st_ino, marker)


class OutputTarget:
    """A directory (``kind="dir"``) or file (``kind="file"``) output written safely (see the module docstring).

    Args:
        target: the output path the user asked for.
        inputs: paths the command reads (files or directories); the target may not overlap them.
        overwrite: whether an existing target may be replaced (only one this tool created, or an empty one).
        kind: ``"dir"`` or ``"file"``.
        what: how the target is called in messages (e.g. ``"--output"``).
        command: recorded in the directory marker.
    """

    def __init__(
        self,
        target: str | os.PathLike,
        *,
        inputs: Iterable[str | os.PathLike | None] = (),
        overwrite: bool = False,
        kind: str = "dir",
        what: str = "output",
        command: str | None = None,
    ):
        if kind not in ("dir", "file"):
            raise ValueError(f"kind must be 'dir' or 'file', got {kind!r}")
        self.target = Path(os.path.abspath(os.path.expanduser(os.fspath(target))))
        self.inputs = [i for i in inputs if i is not None]
        self.overwrite = bool(overwrite)
        self.kind = kind
        self.what = what
        self.command = command
        self.work: Path | None = None
        self._lock_fd: int | None = None
        self._lock_path = self.target.parent / f".{self.target.name}.lock"
        self._initial: tuple | None = None
        self._committed = False
        self.check()

    # ------------------------------------------------------------------------------------------------------------
    def check(self) -> None:
        """All checks that can be made before the work starts (called by the constructor)."""
        tgt, name = self.target, f"{self.what} {self.target}"
        if not tgt.name or tgt == Path(tgt.anchor):
            raise OutputError(f"{name} is not a usable output path")
        for parent in [tgt.parent, *tgt.parent.parents]:
            if parent.exists():
                if not parent.is_dir():
                    raise OutputError(f"{name} lies under {parent}, which is a file", hint="choose another path")
                if not os.access(parent, os.W_OK | os.X_OK) and parent == tgt.parent:
                    raise OutputError(f"{name}: cannot write into {parent} (permission denied)",
                                      hint="choose a directory you can write to")  # fmt: skip
                if parent != tgt.parent and not os.access(parent, os.W_OK | os.X_OK):
                    raise OutputError(f"{name}: cannot create directories in {parent} (permission denied)",
                                      hint="choose a directory you can write to")  # fmt: skip
                break
        # a new file or a new directory inside an input directory harms nothing; replacing one there might
        check_not_overlapping(tgt, self.inputs, self.what, inside_ok=self.kind == "file" or not self.overwrite)
        if tgt.exists() or tgt.is_symlink():
            if self.kind == "dir":
                if not tgt.is_dir():
                    raise OutputError(f"{name} exists and is a file", hint="choose a directory path")
                if not _is_empty_dir(tgt):
                    if not self.overwrite:
                        raise OutputError(f"{name} exists and is not empty",
                                          hint="choose a new directory or pass --overwrite")  # fmt: skip
                    if not (tgt / MARKER_FILE).is_file():
                        raise OutputError(
                            f"{name} exists and was not written by labram (no {MARKER_FILE} marker); "
                            "refusing to replace it",
                            hint="choose a new directory, or empty/remove this one yourself",
                        )
            else:
                if tgt.is_dir():
                    raise OutputError(f"{name} is a directory", hint="pass a file path")
                if not self.overwrite:
                    raise OutputError(f"{name} exists", hint="pass --overwrite to replace it")
        self._initial = _snapshot(tgt)

    # ------------------------------------------------------------------------------------------------------------
    def _acquire_lock(self) -> None:
        import fcntl

        self.target.parent.mkdir(parents=True, exist_ok=True)
        for _ in range(20):
            fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as err:
                os.close(fd)
                if err.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                holder = ""
                try:
                    holder = self._lock_path.read_text().strip()
                except OSError:
                    pass
                raise OutputError(
                    f"{self.what} {self.target} is being written by another labram process"
                    + (f" (pid {holder})" if holder else ""),
                    hint="wait for it to finish, or choose another output",
                ) from None
            # the file may have been unlinked by its previous holder between our open and flock: retry then
            try:
                same = os.fstat(fd).st_ino == os.stat(self._lock_path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, str(os.getpid()).encode())
                self._lock_fd = fd
                return
            os.close(fd)
        raise OutputError(f"could not lock {self._lock_path}")  # pragma: no cover

    def _release_lock(self) -> None:
        if self._lock_fd is None:
            return
        try:
            os.unlink(self._lock_path)
        except FileNotFoundError:
            pass
        os.close(self._lock_fd)  # closing releases the flock
        self._lock_fd = None

    def _remove_stale_work(self) -> None:
        pattern = re.compile(r"^\." + re.escape(self.target.name) + r"\.(?:partial|old)-(\d+)-[0-9a-f]+$")
        try:
            entries = list(self.target.parent.iterdir())
        except OSError:
            return
        for entry in entries:
            m = pattern.match(entry.name)
            if m and not _pid_alive(int(m.group(1))):
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)

    def __enter__(self) -> OutputTarget:
        self._acquire_lock()
        try:
            self.check()  # again, now that we hold the lock
            self._remove_stale_work()
            self.work = self.target.parent / f".{self.target.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}"
            if self.kind == "dir":
                self.work.mkdir()
                self._write_marker(self.work)
        except BaseException:
            self._release_lock()
            raise
        return self

    def _write_marker(self, directory: Path) -> None:
        info = {"created_by": "labram-hf", "command": self.command, "time": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        (directory / MARKER_FILE).write_text(json.dumps(info) + "\n", encoding="utf-8")

    def commit(self) -> Path:
        """Move the finished work into place (checking the target once more); returns the target path."""
        if self.work is None:
            raise RuntimeError("OutputTarget.commit() outside its `with` block")
        if not self.work.exists():
            raise RuntimeError(f"nothing was written to {self.work}")
        now = _snapshot(self.target)
        if now != self._initial:
            raise OutputError(
                f"{self.what} {self.target} was created or changed by someone else while this command ran; "
                "left it untouched",
                hint="check what is there now, then run again (with another output or --overwrite)",
            )
        if self.kind == "dir" and not (self.work / MARKER_FILE).is_file():
            self._write_marker(self.work)
        old = None
        if now is not None:
            if self.kind == "dir" and not _is_empty_dir(self.target):
                old = self.target.parent / f".{self.target.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}"
                os.replace(self.target, old)
            elif self.kind == "dir":
                self.target.rmdir()
        os.replace(self.work, self.target)
        self._committed = True
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        return self.target

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self.work is not None and not self._committed and (self.work.exists() or self.work.is_symlink()):
                if self.work.is_dir() and not self.work.is_symlink():
                    shutil.rmtree(self.work, ignore_errors=True)
                else:
                    self.work.unlink(missing_ok=True)
        finally:
            self._release_lock()
