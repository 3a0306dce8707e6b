"""The files a run writes, replaces and removes in Python, and how a failed
or interrupted run puts them back.

The Runner (runner.py) is one of these: every change, command or file,
goes through one object, so that the trace is complete and an undo knows
everything the run did.  A file Postfix loads is replaced by writing a
temporary file in its directory and renaming it over the old one: a reader
sees the old file or the new one, never a part.
"""

import os

from postfix_tls.core import messages


class UndoFailed(Exception):
    """An undo step (on_restore) failed; the text says what is left as it is."""


class FileChanges(object):
    """What this run created and replaced; needs dry_run and tracer."""

    def __init__(self):
        self.created = []  # files this run created, removed if interrupted
        self.replaced = []  # (path, old bytes or None, old mode), or undo steps

    def create_file(self, path, mode, data=b""):
        """Create path exclusively with mode, holding data; False if it exists."""
        action = "write" if data else "create"
        self.tracer.check()  # no change untraced
        if self.dry_run:
            self.tracer.file_changed(action, path, mode, dry_run=True)
            return True
        old_umask = os.umask(0o077)  # never readable by others, even briefly
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode & 0o777)
        except FileExistsError:
            return False
        finally:
            os.umask(old_umask)
        self.created.append(path)
        self.tracer.file_changed(action, path, mode)
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(data)
        except OSError:
            self.discard(path)
            raise
        return True

    def replace_file(self, path, data, mode, undo=True):
        """Replace path with data, mode: written to a temporary file in the same
        directory and renamed over it, so that a reader sees the old file or
        the new one, never a part; the old one is kept, to be put back
        (undo=False: never put back, a record of what was done elsewhere)."""
        self.tracer.check()
        if self.dry_run:
            self.tracer.file_changed("replace", path, mode, dry_run=True)
            return
        old, old_mode = self._old_file(path)
        self._write_and_rename(path, data, mode)
        if undo:
            self.replaced.append((path, old, old_mode))
        self.tracer.file_changed("replace", path, mode)

    def preserve(self, path):
        """Keep path as it is now, to be put back by restore_replaced (or
        removed, when there is none): a file a command is about to rewrite
        (postmap's built table), which this run does not write itself."""
        if self.dry_run:
            return
        old, old_mode = self._old_file(path)
        self.replaced.append((path, old, old_mode))

    @staticmethod
    def _old_file(path):
        """(bytes, mode) of the file path names, to put back; (None, None)
        when there is none.  Only a regular file is read (opened
        O_NONBLOCK): a FIFO would block the run, /dev/zero never end, and
        neither is a file this run may replace (NotMaterial, an OSError)."""
        import stat  # only where a file is replaced

        from postfix_tls.core.material import NotMaterial

        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
        except FileNotFoundError:
            return None, None
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise NotMaterial(path, messages.REPLACED_NOT_REGULAR)
            chunks = []
            while True:
                chunk = os.read(fd, 1 << 20)
                if not chunk:
                    break
                chunks.append(chunk)
            return b"".join(chunks), info.st_mode & 0o7777
        finally:
            os.close(fd)

    @staticmethod
    def _write_and_rename(path, data, mode):
        import tempfile  # only where a file is replaced: it costs start-up time

        directory, name = os.path.split(path)
        fd, temporary = tempfile.mkstemp(dir=directory or ".", prefix="." + name + ".")
        try:
            with os.fdopen(fd, "wb") as stream:  # mkstemp: mode 0600 from the start
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temporary, mode)
            os.rename(temporary, path)
        except BaseException:
            try:
                os.unlink(temporary)
            except FileNotFoundError:
                pass
            raise

    def restore_replaced(self):
        """Put back what replace_file replaced, and undo what on_restore was
        given, last first (after a failure or a signal).  Every step runs,
        even when one fails; returns what could not be undone, [text].  Once
        an undo step (main.cf) fails, the files it may still name are kept."""
        problems = []
        while self.replaced:
            entry = self.replaced.pop()
            if callable(entry):
                try:
                    entry()
                except UndoFailed as failed:
                    problems.append(str(failed))
                except OSError as error:
                    problems.append(messages.UNDO_STEP_FAILED.format(error=error.strerror))
                continue
            path, old, mode = entry
            try:
                if old is None and problems:
                    problems.append(messages.UNDO_KEPT.format(path=path))
                elif old is None:
                    try:
                        os.unlink(path)
                    except FileNotFoundError:  # a command's file it never made
                        continue
                    self.tracer.file_changed("remove", path)
                else:
                    self._write_and_rename(path, old, mode)
                    self.tracer.file_changed("restore", path, mode)
            except OSError as error:
                problems.append(messages.UNDO_FILE_FAILED.format(path=path,
                                                                 error=error.strerror))
        return problems

    def on_restore(self, undo, last=False):
        """Call undo() when restore_replaced puts the files back: before the
        files replaced so far (a main.cf edit naming them), or, last=True,
        after every file (a reload)."""
        if self.dry_run:
            return
        if last:
            self.replaced.insert(0, undo)
        else:
            self.replaced.append(undo)

    def keep_replaced(self):
        """What was replaced stays: nothing is put back from now on."""
        del self.replaced[:]

    def remove_file(self, path):
        """rm -f path, a file this run is done with (a dry run only says so)."""
        self.tracer.check()
        if not self.dry_run:
            try:
                os.unlink(path)
            except FileNotFoundError:
                return
        elif not os.path.lexists(path):
            return
        self.tracer.file_changed("remove", path, dry_run=self.dry_run)

    def discard(self, *paths):
        """rm -f, for the files among paths that this run created."""
        for path in paths:
            if path not in self.created:
                continue
            self.created.remove(path)
            try:
                os.unlink(path)
            except FileNotFoundError:
                continue
            self.tracer.file_changed("remove", path)

    def discard_created(self):
        """Remove every file this run created, and put back every file it
        replaced (after a failure or a signal); what could not be, [text]."""
        problems = self.restore_replaced()
        self.discard(*list(self.created))
        return problems


def write_whole(path, data, mode):
    """path replaced by data, mode, as replace_file does, outside a run
    (nothing kept, nothing traced): status's UNKNOWN metrics, when the run
    ended before its runner could write them."""
    FileChanges._write_and_rename(path, data, mode)
