#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""powercut_fs: a FUSE filesystem in memory that loses, at a simulated power
cut, everything that was not made durable, the way a disk would.

usage: powercut_fs.py --image FILE [--refuse-direct] [--trace FILE] MOUNTPOINT

What it models (stricter than ext4 in journalled mode, as POSIX allows):
- A file's data, size and times are durable as of its last fsync or
  fdatasync (both are taken to sync the inode: ext4's fdatasync does once
  the size changed, as it does when a file grows).
- A directory's entries (create, mkdir, rename, unlink) are durable as of
  its last fsync (FUSE_FSYNCDIR). A file fsync'd under a name that its
  directory never synced is lost at a cut, however much data it holds; a
  renamed file whose directory was not synced comes back under its old name.
- A cut keeps nothing else ("cut"), or keeps, of each file, a random prefix
  of the writes and truncations made since its last sync, the last write
  cut at a random byte, and with odd luck the file's size as it was
  (zeros past the kept data: metadata that reached the disk before the
  data) ("cut torn"). Directories are never torn.
O_DIRECT opens are taken (the kernel's FUSE does direct I/O), or with
--refuse-direct refused with EINVAL, as by a filesystem without it.
Not modelled: hard links and symlinks (refused), extended attributes,
reordering between files, a disk that lies about its flushes.

Control: the file .powercut in the root (hidden from listings). Reading it
gives counters as JSON. Writing "cut" or "cut torn [SEED]" to it is the
power cut: the durable state is written to FILE (a pickle, through a
temporary file) with the counters beside it (FILE.json), a line "powercut:
cut at EPOCH ..." goes to stderr, and the process exits at once, so nothing
that follows reaches the filesystem (the mount answers ENOTCONN until it is
unmounted). Started again with the same FILE, it serves that state.

--trace FILE appends a line per write, truncate and sync (time, what, name,
offset, bytes): to see what reached the filesystem when.

Counters (JSON): ops by name, fsync and fdatasync calls, fsyncdir calls,
opens with O_DIRECT (open_direct: taken, direct_refused), and for each file name (files): its fsync and
fdatasync calls and unsynced_max, the longest time a write to it stayed
unsynced (from its first write after a sync to the next sync, or the cut).
"""

import argparse
import errno
import json
import os
import pickle
import random
import stat
import sys
import time

try:
    import fusepy as fuse  # Debian's python3-fusepy
except ImportError:
    import fuse  # fusepy from elsewhere

CONTROL = "/.powercut"
ROOT_INO = 1


class Inode:
    def __init__(self, ino, mode, now):
        self.ino = ino
        self.mode = mode
        self.uid = 0
        self.gid = 0
        self.mtime = self.ctime = self.atime = now
        self.durable_attrs = None  # (mode, uid, gid, mtime, ctime) at the last sync
        if stat.S_ISDIR(mode):
            self.entries = {}  # name -> Inode, as the filesystem serves it now
            self.durable_entries = {}  # name -> ino, as of the last fsync of the directory
        else:
            self.data = bytearray()
            self.durable = b""  # content as of the last fsync/fdatasync
            self.log = []  # ("w", off, bytes) / ("t", size) since the last sync
            self.dirty_since = None
        self.sync_attrs()

    def is_dir(self):
        return stat.S_ISDIR(self.mode)

    def sync_attrs(self):
        self.durable_attrs = (self.mode, self.uid, self.gid, self.mtime, self.ctime)


def apply_op(buf, op):
    if op[0] == "t":
        del buf[op[1]:]
        buf.extend(b"\0" * (op[1] - len(buf)))
    else:
        _, off, data = op
        if off > len(buf):
            buf.extend(b"\0" * (off - len(buf)))
        buf[off:off + len(data)] = data


class PowercutFS(fuse.Operations):
    use_ns = True

    def __init__(self, image, refuse_direct, trace):
        self.image = image
        self.refuse_direct = refuse_direct
        self.trace = open(trace, "a", buffering=1) if trace else None
        self.fds = {}  # fh -> Inode (the control file's: the counters it reads)
        self.next_fh = 1
        self.stats = {"ops": {}, "fsync": 0, "fdatasync": 0, "fsyncdir": 0, "open_direct": 0, "direct_refused": 0,
                      "files": {}}
        now = time.time_ns()
        if os.path.exists(image):
            with open(image, "rb") as f:
                saved = pickle.load(f)
            self.inodes = {}
            for ino, rec in saved["inodes"].items():
                node = Inode(ino, rec["mode"], now)
                node.uid, node.gid, node.mtime, node.ctime = rec["uid"], rec["gid"], rec["mtime"], rec["ctime"]
                node.sync_attrs()
                if node.is_dir():
                    node.durable_entries = dict(rec["entries"])
                else:
                    node.durable = rec["data"]
                    node.data = bytearray(rec["data"])
                self.inodes[ino] = node
            for node in self.inodes.values():
                if node.is_dir():
                    node.entries = {n: self.inodes[i] for n, i in node.durable_entries.items()}
            self.next_ino = saved["next_ino"]
        else:
            self.inodes = {ROOT_INO: Inode(ROOT_INO, stat.S_IFDIR | 0o755, now)}
            self.next_ino = ROOT_INO + 1

    # ---- helpers --------------------------------------------------------------------

    def count(self, op):
        self.stats["ops"][op] = self.stats["ops"].get(op, 0) + 1

    def lookup(self, path):
        node = self.inodes[ROOT_INO]
        for part in path.split("/"):
            if part == "":
                continue
            if not node.is_dir():
                raise fuse.FuseOSError(errno.ENOTDIR)
            node = node.entries.get(part)
            if node is None:
                raise fuse.FuseOSError(errno.ENOENT)
        return node

    def parent(self, path):
        head, name = os.path.split(path.rstrip("/"))
        if name == "" or len(name.encode()) > 255:
            raise fuse.FuseOSError(errno.EINVAL if name == "" else errno.ENAMETOOLONG)
        node = self.lookup(head)
        if not node.is_dir():
            raise fuse.FuseOSError(errno.ENOTDIR)
        return node, name

    def node_of(self, path, fi):
        if fi is not None and isinstance(self.fds.get(fi.fh), Inode):
            return self.fds[fi.fh]
        return self.lookup(path)

    def new_node(self, mode):
        node = Inode(self.next_ino, mode, time.time_ns())
        uid, gid, _ = fuse.fuse_get_context()
        node.uid, node.gid = uid, gid
        node.sync_attrs()
        self.inodes[node.ino] = node
        self.next_ino += 1
        return node

    def log(self, what, node, path, *args):
        if self.trace:
            print("%.6f %s %s %s" % (time.time(), what, os.path.basename(path) if path else self.name_of(node),
                                     " ".join(str(a) for a in args)), file=self.trace)

    def changed(self, node, op):
        now = time.time_ns()
        node.mtime = node.ctime = now
        node.log.append(op)
        if node.dirty_since is None:
            node.dirty_since = now

    def file_stats(self, name):
        return self.stats["files"].setdefault(name, {"fsync": 0, "fdatasync": 0, "unsynced_max": 0})

    def note_age(self, node, now, name):
        if node.dirty_since is None:
            return
        st = self.file_stats(name)
        st["unsynced_max"] = max(st["unsynced_max"], round((now - node.dirty_since) / 1e9, 4))

    def name_of(self, node):
        for parent in self.inodes.values():
            if parent.is_dir():
                for name, child in parent.entries.items():
                    if child is node:
                        return name
        return "#%d" % node.ino

    # ---- the power cut --------------------------------------------------------------

    def cut(self, torn, seed):
        at = time.time()
        rng = random.Random(seed)
        now = time.time_ns()
        out = {}
        kept = kept_torn = 0
        todo = [ROOT_INO]
        while todo:
            ino = todo.pop()
            if ino in out:
                continue
            node = self.inodes[ino]
            mode, uid, gid, mtime, ctime = node.durable_attrs
            rec = {"mode": mode, "uid": uid, "gid": gid, "mtime": mtime, "ctime": ctime}
            if node.is_dir():
                rec["entries"] = dict(node.durable_entries)
                todo.extend(node.durable_entries.values())
            else:
                data = node.durable
                if torn and node.log:
                    buf = bytearray(data)
                    n = rng.randint(0, len(node.log))
                    for op in node.log[:n]:
                        apply_op(buf, op)
                    if n < len(node.log) and node.log[n][0] == "w":
                        _, off, piece = node.log[n]
                        apply_op(buf, ("w", off, piece[:rng.randint(0, len(piece))]))
                    if rng.random() < 0.5 and len(node.data) > len(buf):
                        buf.extend(b"\0" * (len(node.data) - len(buf)))
                    kept_torn += len(buf) - len(data)
                    data = bytes(buf)
                kept += len(data)
                rec["data"] = data
            out[ino] = rec
        served = 0  # bytes in the files the filesystem served at the cut
        todo = [self.inodes[ROOT_INO]]
        while todo:
            node = todo.pop()
            if node.is_dir():
                todo.extend(node.entries.values())
            else:
                served += len(node.data)
                self.note_age(node, now, self.name_of(node))
        tmp = self.image + ".tmp"
        with open(tmp, "wb") as f:
            pickle.dump({"inodes": out, "next_ino": self.next_ino, "cut_at": at}, f)
            f.flush()
            os.fsync(f.fileno())
        os.rename(tmp, self.image)
        self.stats["cut_at"] = at
        with open(self.image + ".json", "w") as f:
            json.dump(self.stats, f)
        print("powercut: cut at %.6f%s: %d inodes, %d bytes kept of %d served, %d of them torn from unsynced writes"
              % (at, " (torn)" if torn else "", len(out), kept, served, kept_torn), file=sys.stderr, flush=True)
        os._exit(0)

    # ---- operations -----------------------------------------------------------------

    def __call__(self, op, path, *args):
        self.count(op)
        if path == CONTROL and op not in ("getattr", "open", "read", "write", "truncate", "release", "flush"):
            raise fuse.FuseOSError(errno.EPERM)
        return getattr(self, op)(path, *args)

    def getattr(self, path, fi=None):
        if path == CONTROL:
            return {"st_mode": stat.S_IFREG | 0o600, "st_nlink": 1, "st_size": 0}
        node = self.node_of(path, fi)
        attrs = {"st_ino": node.ino, "st_mode": node.mode, "st_uid": node.uid, "st_gid": node.gid,
                 "st_mtime": node.mtime, "st_ctime": node.ctime, "st_atime": node.atime,
                 "st_blksize": 4096}
        if node.is_dir():
            attrs["st_nlink"] = 2 + sum(c.is_dir() for c in node.entries.values())
            attrs["st_size"] = 4096
        else:
            attrs["st_nlink"] = 1
            attrs["st_size"] = len(node.data)
            attrs["st_blocks"] = (len(node.data) + 511) // 512
        return attrs

    def statfs(self, path):
        used = sum(len(n.data) for n in self.inodes.values() if not n.is_dir()) // 4096
        return {"f_bsize": 4096, "f_frsize": 4096, "f_blocks": 1 << 20, "f_bfree": (1 << 20) - used,
                "f_bavail": (1 << 20) - used, "f_files": 1 << 20, "f_ffree": (1 << 20) - len(self.inodes),
                "f_namemax": 255}

    def access(self, path, amode):
        if path != CONTROL:
            self.lookup(path)
        return 0

    def readdir(self, path, fh):
        node = self.lookup(path)
        return [".", ".."] + list(node.entries)

    def opendir(self, path):
        if not self.lookup(path).is_dir():
            raise fuse.FuseOSError(errno.ENOTDIR)
        return 0

    def releasedir(self, path, fh):
        return 0

    def mkdir(self, path, mode):
        parent, name = self.parent(path)
        if name in parent.entries:
            raise fuse.FuseOSError(errno.EEXIST)
        parent.entries[name] = self.new_node(stat.S_IFDIR | (mode & 0o7777))
        parent.mtime = parent.ctime = time.time_ns()

    def rmdir(self, path):
        parent, name = self.parent(path)
        node = parent.entries.get(name)
        if node is None:
            raise fuse.FuseOSError(errno.ENOENT)
        if not node.is_dir():
            raise fuse.FuseOSError(errno.ENOTDIR)
        if node.entries:
            raise fuse.FuseOSError(errno.ENOTEMPTY)
        del parent.entries[name]

    def open_fh(self, node, fi):
        fh = self.next_fh
        self.next_fh += 1
        self.fds[fh] = node
        fi.fh = fh
        if fi.flags & os.O_DIRECT:
            self.stats["open_direct"] += 1
        return 0

    def refuse(self, fi):
        if self.refuse_direct and fi.flags & os.O_DIRECT:
            self.stats["direct_refused"] += 1
            raise fuse.FuseOSError(errno.EINVAL)

    def create(self, path, mode, fi):
        self.refuse(fi)
        parent, name = self.parent(path)
        node = parent.entries.get(name)
        if node is None:
            node = self.new_node(stat.S_IFREG | (mode & 0o7777))
            parent.entries[name] = node
            parent.mtime = parent.ctime = time.time_ns()
        elif fi.flags & os.O_EXCL:
            raise fuse.FuseOSError(errno.EEXIST)
        elif fi.flags & os.O_TRUNC and node.data:
            self.truncate(path, 0, None)
        return self.open_fh(node, fi)

    def open(self, path, fi):
        if path == CONTROL:
            # The counters as they are now, whatever the reads that follow.
            fi.direct_io = 1
            fi.fh = self.next_fh
            self.next_fh += 1
            self.fds[fi.fh] = json.dumps(self.stats).encode()
            return 0
        self.refuse(fi)
        node = self.lookup(path)
        if node.is_dir():
            raise fuse.FuseOSError(errno.EISDIR)
        return self.open_fh(node, fi)

    def release(self, path, fi):
        self.fds.pop(fi.fh, None)
        return 0

    def flush(self, path, fi):
        return 0

    def read(self, path, size, offset, fi):
        if path == CONTROL:
            return self.fds[fi.fh][offset:offset + size]
        node = self.node_of(path, fi)
        return bytes(node.data[offset:offset + size])

    def write(self, path, data, offset, fi):
        if path == CONTROL:
            words = data.decode(errors="replace").split()
            if words[:1] == ["cut"]:
                seed = int(words[2]) if len(words) > 2 else None
                self.cut(words[1:2] == ["torn"], seed)
            raise fuse.FuseOSError(errno.EINVAL)
        node = self.node_of(path, fi)
        self.log("write", node, path, offset, len(data))
        apply_op(node.data, ("w", offset, data))
        self.changed(node, ("w", offset, bytes(data)))
        return len(data)

    def truncate(self, path, length, fi=None):
        if path == CONTROL:
            return 0
        node = self.node_of(path, fi)
        if node.is_dir():
            raise fuse.FuseOSError(errno.EISDIR)
        apply_op(node.data, ("t", length))
        self.changed(node, ("t", length))

    def fsync(self, path, datasync, fi):
        node = self.node_of(path, fi)
        self.stats["fdatasync" if datasync else "fsync"] += 1
        if node.is_dir():
            return self.fsyncdir(path, datasync, fi)
        name = os.path.basename(path) if path else self.name_of(node)
        self.file_stats(name)["fdatasync" if datasync else "fsync"] += 1
        self.log("fdatasync" if datasync else "fsync", node, name, len(node.data))
        self.note_age(node, time.time_ns(), name)
        node.durable = bytes(node.data)
        node.log = []
        node.dirty_since = None
        node.sync_attrs()
        return 0

    def fsyncdir(self, path, datasync, fh):
        node = self.lookup(path)
        self.stats["fsyncdir"] += 1
        node.durable_entries = {name: child.ino for name, child in node.entries.items()}
        node.sync_attrs()
        return 0

    def unlink(self, path):
        parent, name = self.parent(path)
        node = parent.entries.get(name)
        if node is None:
            raise fuse.FuseOSError(errno.ENOENT)
        if node.is_dir():
            raise fuse.FuseOSError(errno.EISDIR)
        del parent.entries[name]
        parent.mtime = parent.ctime = time.time_ns()

    def rename(self, old, new):
        oparent, oname = self.parent(old)
        nparent, nname = self.parent(new)
        node = oparent.entries.get(oname)
        if node is None:
            raise fuse.FuseOSError(errno.ENOENT)
        target = nparent.entries.get(nname)
        if target is not None and target is not node:
            if target.is_dir() != node.is_dir():
                raise fuse.FuseOSError(errno.EISDIR if target.is_dir() else errno.ENOTDIR)
            if target.is_dir() and target.entries:
                raise fuse.FuseOSError(errno.ENOTEMPTY)
        del oparent.entries[oname]
        nparent.entries[nname] = node
        now = time.time_ns()
        oparent.mtime = oparent.ctime = nparent.mtime = nparent.ctime = node.ctime = now

    def chmod(self, path, mode):
        node = self.lookup(path)
        node.mode = (node.mode & ~0o7777) | (mode & 0o7777)
        node.ctime = time.time_ns()

    def chown(self, path, uid, gid):
        node = self.lookup(path)
        if uid != -1:
            node.uid = uid
        if gid != -1:
            node.gid = gid
        node.ctime = time.time_ns()

    def utimens(self, path, times=None):
        node = self.lookup(path)
        now = time.time_ns()
        node.atime, node.mtime = times if times else (now, now)
        node.ctime = now

    def link(self, target, source):
        raise fuse.FuseOSError(errno.EPERM)

    def symlink(self, target, source):
        raise fuse.FuseOSError(errno.EPERM)

    def mknod(self, path, mode, dev):
        raise fuse.FuseOSError(errno.EPERM)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--image", required=True, help="where the durable state goes at a cut, and comes from")
    ap.add_argument("--refuse-direct", action="store_true", help="refuse O_DIRECT opens (EINVAL)")
    ap.add_argument("--trace", help="log writes and syncs to this file")
    ap.add_argument("mountpoint")
    args = ap.parse_args()
    fs = PowercutFS(os.path.abspath(args.image), args.refuse_direct, args.trace)
    print("powercut: serving %s (%d inodes)" % (args.mountpoint, len(fs.inodes)), file=sys.stderr, flush=True)
    # Single-threaded: every operation, and the cut, happens alone.
    fuse.FUSE(fs, args.mountpoint, raw_fi=True, foreground=True, nothreads=True, fsname="powercut",
              subtype="powercut", allow_other=True, use_ino=True, hard_remove=True, big_writes=True,
              max_write=131072)


if __name__ == "__main__":
    main()
