#!/usr/bin/env python3
"""Compile every LibTorch translation unit against LibTorch 2.x headers, without a LibTorch 2.x to link (docs/gpu.md).

The development machine has Debian 12's LibTorch 1.13 and no way to install a 2.x; Debian 13 (trixie) packages
LibTorch 2.6, and its headers alone are enough to check that the tree compiles warning-free against 2.x. This
script:
  1. downloads trixie's libtorch-dev .deb with apt-get (an apt configuration of its own under WORK; no root
     needed, nothing installed) and unpacks it with dpkg-deb -x;
  2. precompiles <torch/torch.h> from those headers;
  3. for every entry of BUILD/compile_commands.json that includes LibTorch (Qt targets excepted: Debian 13's
     Qt is not part of the check), reruns the compiler with the 1.13 include folders replaced by the 2.x ones,
     -O0 and -fsyntax-only, and reports every warning and error.
Exit status 1 if any unit has an error or a warning. It checks compilation only: linking and running against a
2.x LibTorch is scripts/device-check.sh's step 1.

Usage: scripts/check-libtorch2.py [--build build] [--work build-torch2] [--jobs 2] [--version 2.6.0+dfsg-7]
"""
import argparse
import concurrent.futures as cf
import glob
import json
import os
import shlex
import subprocess
import sys

TORCH_API = "/usr/include/torch/csrc/api/include"
QT_PARTS = ("/app/gui/", "/views/", "/tests/app/", "/tests/views/", "_autogen/", "cmake_pch")


def fetch_headers(work, version):
    root = os.path.join(work, "root")
    if os.path.isdir(os.path.join(root, "usr/include/torch")):
        return root
    apt = os.path.join(work, "apt")
    for d in ("lists/partial", "cache/archives/partial", "debs"):
        os.makedirs(os.path.join(apt, d), exist_ok=True)
    sources = os.path.join(apt, "sources.list")
    with open(sources, "w") as f:
        f.write("deb [trusted=yes] http://deb.debian.org/debian trixie main\n")
    opts = [f"-oDir::Etc::SourceList={sources}", "-oDir::Etc::SourceParts=/dev/null",
            f"-oDir::State::Lists={apt}/lists", f"-oDir::Cache={apt}/cache", "-oDebug::NoLocking=1"]
    subprocess.run(["apt-get", *opts, "update"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["apt-get", *opts, "download", f"libtorch-dev={version}"], check=True, cwd=os.path.join(apt, "debs"))
    deb = glob.glob(os.path.join(apt, "debs", "libtorch-dev_*.deb"))[0]
    subprocess.run(["dpkg-deb", "-x", deb, root], check=True)
    return root


def torch_units(build):
    with open(os.path.join(build, "compile_commands.json")) as f:
        entries = json.load(f)
    seen, units = set(), []
    for e in entries:
        cmd = e.get("command") or shlex.join(e["arguments"])
        if TORCH_API not in cmd or any(p in e["file"] for p in QT_PARTS) or e["file"] in seen:
            continue
        seen.add(e["file"])
        units.append((e["file"], shlex.split(cmd), e["directory"]))
    return units


def rewrite(args, include, pch):
    """The unit's command with the 2.x headers first, no object output, no project PCH, -O0 -fsyntax-only."""
    out, i = [args[0]], 1
    while i < len(args):
        a = args[i]
        if a in ("-o", "-c", "-include", "-MF", "-MT"):
            i += 2
            continue
        if a == "-isystem" and args[i + 1] == TORCH_API:
            i += 2
            continue
        if a in ("-O1", "-O2", "-O3", "-Winvalid-pch", "-MD", "-MMD"):
            i += 1
            continue
        out.append(a)
        i += 1
    return out + ["-O0", "-include", pch, "-isystem", f"{include}/torch/csrc/api/include", "-isystem", include,
                  "-fsyntax-only"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default="build")
    ap.add_argument("--work", default="build-torch2")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--version", default="2.6.0+dfsg-7")
    ap.add_argument("--only", default="", help="check only units whose path contains one of these (comma-separated)")
    args = ap.parse_args()
    build, work = os.path.abspath(args.build), os.path.abspath(args.work)
    os.makedirs(work, exist_ok=True)
    root = fetch_headers(work, args.version)
    include = os.path.join(root, "usr/include")
    only = [o for o in args.only.split(",") if o]
    units = [u for u in torch_units(build) if not only or any(o in u[0] for o in only)]
    if not units:
        sys.exit(f"{build}/compile_commands.json lists no LibTorch units (configure the build first)")
    # The PCH must see the same defines and language flags as the units: take them from the first unit.
    flags = [a for a in rewrite(units[0][1], include, "") if a.startswith(("-D", "-std=", "-f", "-m"))
             and a != "-fsyntax-only"]
    pch = os.path.join(work, "torch2.hxx")
    with open(pch, "w") as f:
        f.write("#include <torch/torch.h>\n")
    print(f"precompiling <torch/torch.h> from {include} ...", flush=True)
    subprocess.run([units[0][1][0], *flags, "-O0", "-isystem", f"{include}/torch/csrc/api/include", "-isystem",
                    include, "-x", "c++-header", pch, "-o", pch + ".gch"], check=True)

    def check(unit):
        path, cmd, directory = unit
        r = subprocess.run(rewrite(cmd, include, pch) + [path], cwd=directory, capture_output=True, text=True)
        return path, r.returncode, r.stderr

    bad = 0
    with cf.ThreadPoolExecutor(args.jobs) as ex:
        for path, rc, err in ex.map(check, units):
            flagged = [l for l in err.splitlines() if "warning:" in l or "error:" in l]
            ok = rc == 0 and not flagged
            bad += not ok
            print(f"{'ok ' if ok else 'BAD'} {os.path.relpath(path)}", flush=True)
            if not ok:
                print(err[:6000], flush=True)
    print(f"{len(units)} LibTorch units against LibTorch {args.version} headers: {bad} with warnings or errors")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
