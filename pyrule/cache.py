"""A content-addressed cache of job results, shared between runs and projects (docs/cache.md).

Layout of a cache directory:

    blobs/ab/<xxh3-128 of the content>     one file's bytes, read-only, named by their hash
    actions/ab/<job key>.json              an entry: the job's outputs -> blobs, modes, reported stats
    tmp/                                   files being written (renamed into place when whole)
    use.log                                the use journal: hits, misses, refusals, publications

A job's key (job_key) covers everything its signature covers (decide.signature: body, params,
env, the top-level names its body uses, the input and output lists) and the content hash of
each input. An entry and its blobs are written under temporary names and renamed into place,
blobs first: a publisher killed at any point leaves no entry that looks whole, and two
publishers of one key both succeed (the last rename wins; both entries are whole). A restore
copies each blob next to its output (a reflink where the file system can, else a copy; never a
hard link, through which a later job could change the cache), verifies every copy against its
hash, and only then renames the copies into place: a tampered, truncated or vanished blob
refuses the entry, and the job runs.
"""

from __future__ import annotations

import errno
import json
import os
import stat as statmod
import time

import xxhash

from .decide import hash_file
from .record import record

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing at start
if TYPE_CHECKING:
    from typing import Any

FORMAT = 1  # part of every key: a new format never reads an old entry
ENV = "PYRULE_CACHE"
_FICLONE = 0x40049409  # ioctl(dest, FICLONE, src): a reflink on btrfs, XFS, bcachefs, ...
_TMP_GRACE_S = 24 * 3600  # prune leaves younger leftovers in tmp/ (a publisher may be writing them)
_BLOB_GRACE_S = 3600  # and younger unreferenced blobs (a publisher may be about to write their entry)


class Refused(Exception):
    """An entry that cannot be trusted (damaged, tampered, truncated, a blob gone): the job runs."""


def job_key(parts: dict[str, Any]) -> str:
    """The cache key of a job from its signature's parts (decide.signature): the same parts and
    the content hashes of its inputs. Fingerprints that are not content hashes (`check: mtime`,
    a directory's listing, an ancient() input) are replaced by a hash of the content, so that a
    key means the same bytes in every project."""
    fps = []
    for path, fp in zip(parts["inputs"], parts["fps"]):
        if fp.startswith(("m:", "dir:")) or fp == "ancient":
            fp = content_hash(path)
        fps.append(fp)
    doc = {"format": FORMAT, "body": parts["body"], "params": parts["params"], "env": parts["env"],
           "names": parts.get("names", {}), "inputs": parts["inputs"], "outputs": parts["outputs"], "fps": fps}
    if parts.get("values"):  # the values it read (values.py): their content hashes
        doc["values"] = {name: v[0] for name, v in parts["values"].items()}
    return xxhash.xxh3_128_hexdigest(json.dumps(doc, sort_keys=True, default=repr).encode())


def content_hash(path: str) -> str:
    """A file's content hash; a directory's: the hash of its files' relative paths and hashes."""
    if not os.path.isdir(path):
        return hash_file(path)
    h = xxhash.xxh3_128()
    for rel, _st in _walk_files(path):
        h.update(f"{rel}\0{hash_file(os.path.join(path, rel))}\n".encode("utf-8", "surrogateescape"))
    return "tree:" + h.hexdigest()


def _walk_files(root: str) -> list[tuple[str, os.stat_result]]:
    out = []
    for top, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            p = os.path.join(top, name)
            out.append((os.path.relpath(p, root), os.lstat(p)))
    return out


def cacheable(outputs: list[str], temps: list[str]) -> str | None:
    """Why a job with these outputs is not cached (None: it is)."""
    if not outputs:
        return "it has no outputs"
    if temps:
        return "it has temp() outputs"
    for p in outputs:
        if os.path.isabs(p) or ".." in p.split(os.sep):
            return f"output {p} is outside the project"
    return None


class Cache:
    """The cache in directory `root`, created if missing. A directory made group-writable and
    setgid by its owner (docs/cache.md, "A cache for a lab") is shared by that group: what this
    process creates in it is group-readable, and its directories group-writable."""

    def __init__(self, root: str, run_id: str = ""):
        self.root = os.path.abspath(root)
        self.run_id = run_id
        os.makedirs(self.root, exist_ok=True)
        mode = os.stat(self.root).st_mode
        self.shared = bool(mode & statmod.S_IWGRP)
        # Shared: what this process creates is as open as the directory itself (2770: the group only)
        self.dir_mode = statmod.S_IMODE(mode) | 0o2000 if self.shared else 0o755
        self.file_mode = 0o444 & (statmod.S_IMODE(mode) | 0o400) if self.shared else 0o444
        for sub in ("blobs", "actions", "tmp"):
            self._mkdir(os.path.join(self.root, sub))

    # --- paths and small helpers --------------------------------------------------------------

    def _mkdir(self, path: str) -> None:
        try:
            os.mkdir(path)
        except FileExistsError:
            return
        os.chmod(path, self.dir_mode)  # mkdir's mode is cut by the umask; setgid is inherited anyway

    def blob_path(self, digest: str) -> str:
        return os.path.join(self.root, "blobs", digest[:2], digest)

    def entry_path(self, key: str) -> str:
        return _entry_path(self.root, key)

    def _tmp(self, what: str) -> str:
        return os.path.join(self.root, "tmp", f"{what}.{os.getpid()}.{time.monotonic_ns()}")

    def journal(self, event: str, key: str) -> None:
        """One line in use.log (appended in one write: lines of processes never mix)."""
        line = f"{time.time():.3f}\t{event}\t{key}\t{self.run_id}\n".encode()
        try:
            fd = os.open(os.path.join(self.root, "use.log"), os.O_WRONLY | os.O_APPEND | os.O_CREAT,
                         0o664 if self.shared else 0o644)
            try:
                if self.shared and os.fstat(fd).st_uid == os.getuid():  # the umask may have cut the group out
                    os.fchmod(fd, 0o660 | (self.dir_mode & 0o004))
                os.write(fd, line)
            finally:
                os.close(fd)
        except OSError:  # the journal only serves --cache-info and pruning order
            pass

    # --- publishing ---------------------------------------------------------------------------

    def publish(self, key: str, outputs: list[str], reported: dict[str, Any] | None = None,
                wall_s: float = 0.0, value: Any = None) -> bool:
        """Store the outputs (files or directories, relative to the current directory) under
        `key`. False (nothing published) if an output is neither a regular file nor a directory
        of regular files, or changed while it was stored."""
        items = []
        for path in outputs:
            st = os.lstat(path)
            if statmod.S_ISREG(st.st_mode):
                items.append({"path": path, "type": "file", **self._put(path, st)})
            elif statmod.S_ISDIR(st.st_mode):
                files, dirs = [], []
                for top, subdirs, names in os.walk(path):
                    subdirs.sort()
                    for d in subdirs:
                        if os.path.islink(os.path.join(top, d)):
                            return False  # os.walk does not follow it: not a tree of files
                        dirs.append(os.path.relpath(os.path.join(top, d), path))
                    for name in sorted(names):
                        p = os.path.join(top, name)
                        fst = os.lstat(p)
                        if not statmod.S_ISREG(fst.st_mode):
                            return False  # a symlink, FIFO, socket: not cached (docs/cache.md)
                        files.append({"path": os.path.relpath(p, path), **self._put(p, fst)})
                items.append({"path": path, "type": "dir", "mode": statmod.S_IMODE(st.st_mode),
                              "dirs": dirs, "files": files})
            else:
                return False
        body = {"format": FORMAT, "key": key, "outputs": items, "reported": reported or {},
                "wall_s": wall_s, "created": time.time()}
        if value is not None:  # the job's value (values.py), in the entry itself, with its hash
            import base64

            body["value"] = {"kind": value.kind, "hash": value.hash, "short": value.short,
                             "data": base64.b64encode(value.data).decode()}
        text = json.dumps({**body, "check": _check(body)}, sort_keys=True)
        # Blobs are in place before the entry that names them becomes visible.
        self._mkdir(os.path.dirname(self.entry_path(key)))
        tmp = self._tmp("entry")
        try:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                os.write(fd, text.encode())
                os.fchmod(fd, self.file_mode)  # explicit: the umask must not cut the group out
            finally:
                os.close(fd)
            os.replace(tmp, self.entry_path(key))
        except BaseException:  # a full disk: no leftover (a kill leaves one in tmp/, which prune removes)
            _unlink(tmp)
            raise
        self.journal("publish", key)
        return True

    def _put(self, path: str, st: os.stat_result) -> dict[str, Any]:
        """Store one file's content as a blob (if not there yet); its hash, size and mode."""
        digest = hash_file(path)
        blob = self.blob_path(digest)
        try:
            if os.stat(blob).st_size != st.st_size:
                _unlink(blob)  # truncated: written anew below
            os.utime(blob)  # there already: fresh again, so a prune running now leaves it
        except FileNotFoundError:
            self._mkdir(os.path.dirname(blob))
            tmp = self._tmp("blob")
            try:
                _copy(path, tmp)
                if hash_file(tmp) != digest:  # the output changed while it was copied
                    raise Refused(f"{path} changed while it was stored in the cache")
                os.chmod(tmp, self.file_mode)
                os.replace(tmp, blob)
            except BaseException:
                _unlink(tmp)
                raise
        except PermissionError:  # another member's blob: exists, and that is what matters
            pass
        return {"blob": digest, "size": st.st_size, "mode": statmod.S_IMODE(st.st_mode)}

    # --- looking up and restoring -------------------------------------------------------------

    def entry(self, key: str) -> dict[str, Any] | None:
        """The entry under `key`, checked for form; None if there is none. Refused if damaged."""
        try:
            with open(self.entry_path(key), "rb") as f:
                text = f.read()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise Refused(f"cannot read entry {key}: {e.strerror or e}") from None
        try:
            doc = json.loads(text)
            body = {k: v for k, v in doc.items() if k != "check"}
            if doc.get("check") != _check(body) or doc.get("key") != key or doc.get("format") != FORMAT:
                raise ValueError("its check sum does not match")
            _validate(doc["outputs"])
        except (ValueError, KeyError, TypeError, AttributeError) as e:
            raise Refused(f"entry {key} is damaged ({e})") from None
        return doc

    def restore(self, key: str, outputs: list[str]) -> dict[str, Any] | None:
        """Restore the outputs of the entry under `key` (relative to the current directory): the
        entry, or None on a miss. Refused (nothing changed on disk) if the entry does not name
        exactly these outputs, or a blob is missing or does not match its hash."""
        doc = self.entry(key)
        if doc is None:
            return None
        if sorted(o["path"] for o in doc["outputs"]) != sorted(outputs):
            raise Refused(f"entry {key} names other outputs")
        if "value" in doc:
            doc["value"] = entry_value(doc["value"], key)
        made: list[tuple[str, str]] = []  # (temporary, final)
        try:
            for o in doc["outputs"]:
                path = o["path"]
                os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
                tmp = _restore_tmp(path)
                made.append((tmp, path))
                if o["type"] == "file":
                    self._get(o, tmp)
                    continue
                os.mkdir(tmp)
                for d in o["dirs"]:
                    os.makedirs(os.path.join(tmp, d), exist_ok=True)
                for f in o["files"]:
                    target = os.path.join(tmp, f["path"])
                    os.makedirs(os.path.dirname(target), exist_ok=True)
                    self._get(f, target)
                os.chmod(tmp, o["mode"])
            # All verified: the old outputs go first, then the new ones come in. A crash in
            # between leaves outputs missing (the job runs), never old ones mixed with new.
            for _tmp, path in made:
                _remove(path)
            for tmp, path in made:
                os.replace(tmp, path)
        except BaseException:
            for tmp, _path in made:
                _remove(tmp)
            raise
        self.journal("hit", key)
        return doc

    def _get(self, item: dict[str, Any], dest: str) -> None:
        digest = item["blob"]
        try:
            _copy(self.blob_path(digest), dest)
        except FileNotFoundError:
            raise Refused(f"blob {digest} is missing (pruned?)") from None
        except OSError as e:
            raise Refused(f"cannot read blob {digest}: {e.strerror or e}") from None
        if os.path.getsize(dest) != item["size"] or hash_file(dest) != digest:
            try:  # gone, so that the job's next publication writes it anew
                os.unlink(self.blob_path(digest))
            except OSError:
                pass
            raise Refused(f"blob {digest} does not match its hash (tampered or truncated): removed it")
        os.chmod(dest, item["mode"])

    # --- information and pruning --------------------------------------------------------------

    def _entries(self) -> list[tuple[str, str, float]]:
        """(key, entry path, mtime) of every entry file."""
        out = []
        top = os.path.join(self.root, "actions")
        for sub in _listdir(top):
            for name in _listdir(os.path.join(top, sub)):
                if name.endswith(".json"):
                    p = os.path.join(top, sub, name)
                    try:
                        out.append((name[:-5], p, os.stat(p).st_mtime))
                    except FileNotFoundError:
                        pass
        return out

    def _blobs(self) -> dict[str, tuple[int, float]]:
        """digest -> (size, mtime) of every blob."""
        out = {}
        top = os.path.join(self.root, "blobs")
        for sub in _listdir(top):
            for name in _listdir(os.path.join(top, sub)):
                try:
                    st = os.stat(os.path.join(top, sub, name))
                except FileNotFoundError:
                    continue
                out[name] = (st.st_size, st.st_mtime)
        return out

    def _journal(self) -> list[list[str]]:
        try:
            with open(os.path.join(self.root, "use.log"), encoding="utf-8", errors="replace") as f:
                return [ln.rstrip("\n").split("\t") for ln in f if ln.count("\t") == 3]
        except FileNotFoundError:
            return []

    def info(self) -> dict[str, Any]:
        """Size (bytes of blobs and entries), entries, and the hit rate of the last run that used it."""
        entries = self._entries()
        size = sum(s for s, _ in self._blobs().values())
        for _k, p, _t in entries:
            try:
                size += os.path.getsize(p)
            except OSError:
                pass
        last_run, counts = "", {"hit": 0, "miss": 0, "refused": 0}
        lines = self._journal()
        for ln in reversed(lines):
            if ln[1] in counts and ln[3]:
                last_run = ln[3]
                break
        for ln in lines:
            if ln[3] == last_run and ln[1] in counts:
                counts[ln[1]] += 1
        looked = sum(counts.values())
        return {"dir": self.root, "size": size, "entries": len(entries), "blobs": len(self._blobs()),
                "last_run": last_run, **counts, "hit_rate": counts["hit"] / looked if looked else None}

    def prune(self, max_bytes: int) -> tuple[int, int, int]:
        """Remove the least recently used entries (by the use journal, else the entry's date) and
        the blobs no entry names any more, until the blobs take at most max_bytes. Safe while
        others read: a restore that loses a blob refuses its entry and the job runs; blobs
        touched since the prune began are left. Returns (entries, blobs, bytes) removed."""
        start = time.time()
        for name in _listdir(os.path.join(self.root, "tmp")):  # leftovers of killed publishers
            p = os.path.join(self.root, "tmp", name)
            try:
                if os.lstat(p).st_mtime < start - _TMP_GRACE_S:
                    _unlink(p)
            except OSError:
                pass
        used: dict[str, float] = {}
        for ln in self._journal():
            if ln[1] in ("hit", "publish"):
                try:
                    used[ln[2]] = max(used.get(ln[2], 0.0), float(ln[0]))
                except ValueError:
                    pass
        entries = []
        refs: dict[str, int] = {}
        for key, path, mtime in self._entries():
            try:
                doc = self.entry(key)
            except Refused:
                doc = None
            digests = [] if doc is None else _digests(doc)
            if doc is None:
                _unlink(path)  # damaged: never restorable
            for d in digests:
                refs[d] = refs.get(d, 0) + 1
            if doc is not None:
                entries.append((max(mtime, used.get(key, 0.0)), key, path, digests))
        blobs = self._blobs()
        total = sum(s for s, _ in blobs.values())
        gone = [0, 0, 0]

        def drop(digest: str, grace: float) -> None:
            nonlocal total
            size, _mtime = blobs.pop(digest, (0, start))
            try:
                if os.stat(self.blob_path(digest)).st_mtime >= start - grace:
                    return  # written or touched since the prune began: a publisher may be using it
            except FileNotFoundError:
                return
            _unlink(self.blob_path(digest))
            total -= size
            gone[1] += 1
            gone[2] += size

        for digest in [d for d in blobs if d not in refs]:
            drop(digest, _BLOB_GRACE_S)
        entries.sort()
        kept = {key for _u, key, _p, _d in entries}
        for _used, key, path, digests in entries:
            if total <= max_bytes:
                break
            _unlink(path)  # the entry first: no reader finds it any more, then its blobs go
            kept.discard(key)
            gone[0] += 1
            for d in digests:
                refs[d] -= 1
                if refs[d] == 0:
                    drop(d, 0.0)
        self._compact_journal(kept)
        return gone[0], gone[1], gone[2]

    def _compact_journal(self, keys: set[str]) -> None:
        """Keep the journal small: the last line of each key still here and the last run's lines."""
        lines = self._journal()
        if len(lines) < 10_000:
            return
        last = {}
        for i, ln in enumerate(lines):
            last[ln[2]] = i
        run = next((ln[3] for ln in reversed(lines) if ln[3]), "")
        kept = [ln for i, ln in enumerate(lines) if (ln[2] in keys and last[ln[2]] == i) or ln[3] == run]
        tmp = self._tmp("journal")
        with open(tmp, "w", encoding="utf-8") as f:
            f.writelines("\t".join(ln) + "\n" for ln in kept)
        os.chmod(tmp, 0o664 if self.shared else 0o644)
        os.replace(tmp, os.path.join(self.root, "use.log"))  # lines appended meanwhile are lost: only order


def entry_value(item: Any, key: str) -> Any:
    """The value an entry holds (a values.Stored), verified against its hash: Refused if not."""
    import base64

    from .values import Stored, digest

    try:
        data = base64.b64decode(item["data"], validate=True)
        stored = Stored(digest(item["kind"], data), item["kind"], data, item["short"])
    except (ValueError, KeyError, TypeError) as e:
        raise Refused(f"entry {key}: its value is damaged ({e})") from None
    if stored.hash != item["hash"] or stored.kind not in ("json", "pickle"):
        raise Refused(f"entry {key}: its value does not match its hash")
    return stored


def _restore_tmp(path: str) -> str:
    """Where an output is restored before it is renamed into place, beside it; leftovers of
    restores killed before their rename (their process gone) are removed on the way."""
    parent, base = os.path.dirname(path), os.path.basename(path)
    prefix = f".{base}.pyrule-cache."
    for name in _listdir(parent or "."):
        if name.startswith(prefix) and name[len(prefix):].isdigit():
            pid = int(name[len(prefix):])
            try:
                if pid != os.getpid():
                    os.kill(pid, 0)
                    continue  # another live process restores it now
            except ProcessLookupError:
                pass
            except PermissionError:
                continue
            _remove(os.path.join(parent, name))
    return os.path.join(parent, prefix + str(os.getpid()))


def _entry_path(root: str, key: str) -> str:
    return os.path.join(root, "actions", key[:2], key + ".json")


def _check(body: dict[str, Any]) -> str:
    return xxhash.xxh3_128_hexdigest(json.dumps(body, sort_keys=True).encode())


def _digests(doc: dict[str, Any]) -> list[str]:
    out = []
    for o in doc["outputs"]:
        out.extend([o["blob"]] if o["type"] == "file" else [f["blob"] for f in o["files"]])
    return out


def _safe(rel: Any) -> bool:
    return isinstance(rel, str) and rel != "" and not os.path.isabs(rel) and ".." not in rel.split(os.sep) \
        and "\0" not in rel


def _validate(outputs: Any) -> None:
    """An entry's outputs must be relative paths inside the project, with hex digests: readers
    never write where an entry they cannot verify says."""
    def item(f: Any) -> None:
        if not (_safe(f["path"]) and isinstance(f["blob"], str) and len(f["blob"]) == 32
                and all(c in "0123456789abcdef" for c in f["blob"]) and isinstance(f["size"], int)
                and isinstance(f["mode"], int) and 0 <= f["mode"] <= 0o7777):
            raise ValueError(f"bad file item {f!r}")

    for o in outputs:
        if o["type"] == "file":
            item(o)
        elif o["type"] == "dir" and _safe(o["path"]) and isinstance(o["mode"], int):
            if not all(_safe(d) for d in o["dirs"]):
                raise ValueError("bad directory")
            for f in o["files"]:
                item(f)
        else:
            raise ValueError(f"bad output {o!r}")


def _copy(src: str, dst: str) -> None:
    """Copy src to a new file dst: a reflink where the file system can (FICLONE), else the
    kernel's copy_file_range, else read and write. Never a hard link."""
    with open(src, "rb") as fin:
        fd = os.open(dst, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                import fcntl

                fcntl.ioctl(fd, _FICLONE, fin.fileno())
                return
            except OSError:
                pass
            size = os.fstat(fin.fileno()).st_size
            copied = 0
            try:
                while copied < size:
                    n = os.copy_file_range(fin.fileno(), fd, size - copied)
                    if n == 0:
                        break
                    copied += n
            except OSError as e:
                if e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                    raise
                os.lseek(fd, copied, os.SEEK_SET)
                fin.seek(copied)
                while block := fin.read(1 << 22):
                    os.write(fd, block)
        finally:
            os.close(fd)


def _listdir(path: str) -> list[str]:
    try:
        return os.listdir(path)
    except (FileNotFoundError, NotADirectoryError):
        return []


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _remove(path: str) -> None:
    from .outputs import remove

    remove(path)


def format_info(info: dict[str, Any]) -> str:
    """The text of `pyrule --cache-info`."""
    from .units import format_size

    rate = "no run has used it yet" if info["hit_rate"] is None else \
        f"{info['hit_rate']:.0%} ({info['hit']} hit(s), {info['miss']} miss(es), {info['refused']} refused) " \
        f"in run {info['last_run']}"
    return (f"cache {info['dir']}\n  size: {format_size(info['size'])} ({info['size']} bytes)\n"
            f"  entries: {info['entries']} ({info['blobs']} blob(s))\n  hit rate of the last run: {rate}")


# --- the runner's side (run.py calls these two, and nothing else of this module) ---------------


@record
class Hit:
    """A job restored from the cache: its decision (up to date, with the signature to record,
    as for adopted outputs) and the stats it reported when it ran."""

    decision: Any
    reported: dict[str, str]
    value: Any = None  # the job's value (a values.Stored), when it has one


class JobCache:
    """The cache as a run uses it: look a stale job up before it starts (restore), publish a
    job that succeeded. Problems with the cache are warnings: a job runs, or is not published,
    never fails for them."""

    def __init__(self, root: str, run_id: str, note, warn, log):
        self.store = Cache(root, run_id)
        self.note, self.warn, self.log = note, warn, log
        self.read_only = False  # publishing met a permission error: not said again this run

    @staticmethod
    def cached(job) -> bool:
        """Whether the job's results are looked up and published at all."""
        rule = job.rule
        if not job.outputs:  # a value-only job (values.py): its value is its result
            return getattr(rule, "cache", True) and rule.returns_value
        return getattr(rule, "cache", True) and cacheable(list(job.outputs), job.flagged("temp")) is None

    def restore(self, job, decider) -> Hit | None:
        """Restore a stale job's outputs if the cache has its key: a Hit, recorded as if it ran."""
        from .decide import Decision, InputError

        if not self.cached(job):
            return None
        try:
            sig = decider.signature(job)
            key = job_key(sig[1])
        except (InputError, OSError):
            return None  # the runner fails it as it would without a cache
        try:
            doc = self.store.restore(key, list(job.outputs))
        except (Refused, OSError) as e:
            why = str(e) if isinstance(e, Refused) else f"{e.strerror or e}"
            self.store.journal("refused", key)
            self.warn(f"cache: {job.name}: entry {key} refused: {why}; running the job")
            self.log(f"cache {job.name}: refused {key}: {why}")
            return None
        finally:
            for p in job.outputs:
                decider.stats.forget(p)
        if doc is None or (not job.outputs and "value" not in doc):
            self.store.journal("miss", key)
            self.log(f"cache {job.name}: miss {key}")
            return None
        self.note(f"{job.name}: restored from cache {key}")
        self.log(f"cache {job.name}: restored from cache {key}")
        return Hit(Decision(job, None, why=f"restored from cache {key}", adopt=True, sig=sig),
                   {str(k): str(v) for k, v in doc.get("reported", {}).items()}, doc.get("value"))

    def publish(self, job, sig: tuple[str, dict[str, Any]], res, value: Any = None) -> None:
        """Publish a job that succeeded (after its outputs are final: protected ones read-only)."""
        if not self.cached(job) or (not job.outputs and value is None):  # (no value: nothing to keep)
            return
        try:
            key = job_key(sig[1])
            if self.store.publish(key, list(job.outputs), getattr(res, "reported", None), getattr(res, "wall_s", 0.0),
                                  value):
                self.log(f"cache {job.name}: published {key}")
        except (Refused, OSError) as e:
            why = str(e) if isinstance(e, Refused) else f"{e.strerror or e}"
            self.log(f"cache {job.name}: not published: {why}")
            if isinstance(e, PermissionError):  # a cache this user may only read: said once a run
                if self.read_only:
                    return
                self.read_only = True
                why += " (the cache is read-only for you: restores still work)"
            self.warn(f"cache: {job.name} not published: {why}")


def open_cache(option: str | None, pipefile_cache: str | None, run_id: str, console, log) -> JobCache | None:
    """The run's cache: --cache DIR (Options.cache), else $PYRULE_CACHE, else the Pipefile's
    top-level `cache:`; an empty value turns it off. None: no cache."""
    root = option if option is not None else os.environ.get(ENV, pipefile_cache or "")
    if not root:
        return None
    try:
        return JobCache(os.path.expanduser(root), run_id, console.note, console.warn, log)
    except OSError as e:
        console.warn(f"cache {root} cannot be used ({e.strerror or e}): running without it")
        return None


def cache_command(option: str | None, pipefile_cache: str | None, prune: str | None, console) -> int:
    """`pyrule --cache-info` and `pyrule --cache-prune SIZE`."""
    from .errors import UsageError
    from .units import format_size, parse_size

    root = option if option is not None else os.environ.get(ENV, pipefile_cache or "")
    if not root:
        raise UsageError("no cache to look at", hint="name it: --cache DIR, PYRULE_CACHE=DIR, or `cache: \"DIR\"` "
                         "in the Pipefile")
    if not os.path.isdir(root):
        raise UsageError(f"cache {root}: no such directory")
    cache = Cache(root)
    if prune is not None:
        try:
            limit = parse_size(prune)
        except ValueError as e:
            raise UsageError(f"--cache-prune {prune}: {e}") from None
        entries, blobs, freed = cache.prune(limit)
        console.out(f"pruned {entries} entr{'y' if entries == 1 else 'ies'} and {blobs} blob(s): "
                    f"{format_size(freed)} freed")
    console.out(format_info(cache.info()))
    return 0


def annotate_dry_run(decisions: list, option: str | None, pipefile_cache: str | None) -> None:
    """`pyrule -n` with a cache: a stale job whose inputs are there and whose key the cache holds
    gets `; in the cache: would be restored` after its reason. Nothing is written or restored."""
    root = option if option is not None else os.environ.get(ENV, pipefile_cache or "")
    if not root or not os.path.isdir(os.path.join(root, "actions")):
        return
    from .decide import Fingerprints, InputError, signature
    from .stat_cache import StatCache

    fps = Fingerprints(None, StatCache())
    for d in decisions:
        if d.reason is None or d.upstream or d.pending:  # an upstream job's outputs are not there yet
            continue
        try:
            if JobCache.cached(d.job) and os.path.exists(_entry_path(root, job_key(signature(d.job, fps)[1]))):
                d.reason += "; in the cache: would be restored"
        except (InputError, OSError):
            continue
