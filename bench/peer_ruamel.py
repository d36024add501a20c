#!/usr/bin/env python3
"""Peer for the gitops-bot benchmark: the same image-tag bump done the way a
typical Python tool does it, with ruamel.yaml in round-trip mode.

    peer_ruamel.py DIR --image REPO:TAG [--dry-run] [--jobs N] [--list]

Walks every *.yaml / *.yml under DIR (skipping .git), loads EVERY document of
EVERY file (no substring pre-filter: a YAML-aware tool cannot know where an
image hides without parsing), and sets the tag of

  * every container `image` string (list items under `containers`,
    `initContainers`, `ephemeralContainers`) whose repository equals REPO;
    a `@sha256:` digest on such a reference is dropped, because it pins the
    old build;
  * every Helm-style mapping with `repository` (+ optional `registry`) and
    `tag` whose effective repository (`registry/repository`) equals REPO;
  * every kustomize `images:` entry whose effective name (`newName`, else
    `name`) equals REPO (sets `newTag`), and every plain string entry of an
    `images:` list (Argo CD `spec.source.kustomize.images: ["name:tag"]`).

Changed files are re-serialised by ruamel (preserve_quotes=True, comments
kept, but indentation of sequences, flow style and spacing are normalised:
the result is NOT byte-preserving) and written only if something changed and
--dry-run is not given. Prints `N references updated in M files` on stdout;
parse/statistics go to stderr. Exit status 2 if any file failed to parse.

--jobs N (default 1) uses N worker processes; the benchmark uses the default
because single-process is what such tools do.
"""

import argparse
import io
import os
import sys
import time

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import ScalarString

CONTAINER_KEYS = ("containers", "initContainers", "ephemeralContainers")


def split_ref(ref):
    """'reg:5000/a/b:tag@sha256:x' -> ('reg:5000/a/b', 'tag', 'sha256:x')"""
    name, _, digest = ref.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    if colon > slash:
        return name[:colon], name[colon + 1:], digest
    return name, "", digest


def same_type(old, new):
    """Keep the quoting style ruamel recorded for the old scalar."""
    if isinstance(old, ScalarString):
        return type(old)(new)
    return new


class Bumper:
    def __init__(self, repo, tag):
        self.repo = repo
        self.tag = tag
        self.new_ref = "%s:%s" % (repo, tag)

    def bump_ref_in(self, container, key):
        old = container.get(key)
        if not isinstance(old, str):
            return 0
        repo, tag, digest = split_ref(old)
        if repo != self.repo or (tag == self.tag and not digest):
            return 0
        container[key] = same_type(old, self.new_ref)
        return 1

    def bump_mapping_field(self, m, key):
        old = m.get(key)
        if isinstance(old, str) and old == self.tag:
            return 0
        m[key] = same_type(old, self.tag)
        return 1

    def visit(self, root):
        """Return the number of references changed in one document."""
        n = 0
        seen = set()
        stack = [root]
        while stack:
            node = stack.pop()
            if id(node) in seen:  # anchors/aliases: same node reachable twice
                continue
            seen.add(id(node))
            if isinstance(node, dict):
                # Helm: image: {registry?, repository, tag}
                if "repository" in node and "tag" in node and isinstance(node.get("repository"), str):
                    reg = node.get("registry")
                    eff = "%s/%s" % (reg, node["repository"]) if isinstance(reg, str) and reg else node["repository"]
                    if eff == self.repo:
                        n += self.bump_mapping_field(node, "tag")
                for k, v in node.items():
                    if k in CONTAINER_KEYS and isinstance(v, list):
                        for c in v:
                            if isinstance(c, dict):
                                n += self.bump_ref_in(c, "image")
                    elif k == "images" and isinstance(v, list):
                        for i, e in enumerate(v):
                            if isinstance(e, dict):
                                eff = e.get("newName") or e.get("name")
                                if eff == self.repo:
                                    n += self.bump_mapping_field(e, "newTag")
                            elif isinstance(e, str):
                                repo, tag, _ = split_ref(e)
                                if repo == self.repo and tag != self.tag:
                                    v[i] = same_type(e, self.new_ref)
                                    n += 1
                    if isinstance(v, (dict, list)):
                        stack.append(v)
            elif isinstance(node, list):
                stack.extend(x for x in node if isinstance(x, (dict, list)))
        return n


def make_yaml(crlf):
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096  # do not re-fold long lines
    y.indent(mapping=2, sequence=4, offset=2)
    if crlf:
        y.line_break = "\r\n"
    return y


def process(path, bumper, dry_run):
    """-> (refs_changed, docs, error or None)"""
    with open(path, "rb") as fh:
        data = fh.read()
    crlf = b"\r\n" in data
    y = make_yaml(crlf)
    try:
        docs = list(y.load_all(data.decode("utf-8")))
    except Exception as e:  # ruamel raises several unrelated types
        return 0, 0, "%s: %s" % (path, str(e).splitlines()[0] if str(e) else type(e).__name__)
    n = sum(bumper.visit(d) for d in docs if isinstance(d, (dict, list)))
    if n and not dry_run:
        buf = io.StringIO()
        y.dump_all(docs, buf)
        out = buf.getvalue().encode("utf-8")
        if out != data:
            tmp = path + ".peer-tmp"
            with open(tmp, "wb") as fh:
                fh.write(out)
            os.replace(tmp, path)
    return n, len(docs), None


def yaml_files(root):
    for d, dirs, files in os.walk(root):
        dirs[:] = sorted(x for x in dirs if x != ".git")
        for f in sorted(files):
            if f.endswith((".yaml", ".yml")):
                yield os.path.join(d, f)


_worker = {}


def _init(repo, tag, dry_run):
    _worker["b"] = Bumper(repo, tag)
    _worker["dry"] = dry_run


def _run(path):
    return (path,) + process(path, _worker["b"], _worker["dry"])


def main():
    ap = argparse.ArgumentParser(description="ruamel.yaml round-trip peer for gitops-bot bump")
    ap.add_argument("dir")
    ap.add_argument("--image", required=True, help="REPO:TAG")
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--list", action="store_true", help="print each changed file (relative path) on stdout")
    a = ap.parse_args()
    repo, tag, digest = split_ref(a.image)
    if not tag or digest:
        sys.exit("peer_ruamel: --image must be REPO:TAG")
    t0 = time.monotonic()
    files = list(yaml_files(a.dir))
    if a.jobs > 1:
        import multiprocessing as mp
        with mp.Pool(a.jobs, _init, (repo, tag, a.dry_run)) as pool:
            results = list(pool.imap_unordered(_run, files, chunksize=32))
    else:
        _init(repo, tag, a.dry_run)
        results = [_run(p) for p in files]
    refs = sum(r[1] for r in results)
    changed = sorted(r[0] for r in results if r[1])
    errors = [r[3] for r in results if r[3]]
    docs = sum(r[2] for r in results)
    if a.list:
        for p in changed:
            print(os.path.relpath(p, a.dir))
    print("%d references updated in %d files" % (refs, len(changed)))
    print("peer_ruamel: parsed %d files (%d documents), %d parse errors, %.2fs%s"
          % (len(files), docs, len(errors), time.monotonic() - t0, " (dry run)" if a.dry_run else ""),
          file=sys.stderr)
    for e in errors[:20]:
        print("peer_ruamel: parse error: " + e, file=sys.stderr)
    sys.exit(2 if errors else 0)


if __name__ == "__main__":
    main()
