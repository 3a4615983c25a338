#!/usr/bin/env python3
"""Structural checks of the source tree (docs/design.md, "Layout"), run by ctest as Structure.Tree.

1. The include graph and the CMake target graph tell the same story.

Every library folder maps to one CMake target. The script reads each target's layerscope::* link dependencies
from its CMakeLists.txt, then every quoted #include in the folder's sources, and fails when
  - a file includes a header of a library its target does not link (directly or through its dependencies),
  - a target links a layerscope library it never includes directly (an edge the code does not need),
  - Qt headers appear below views/ (core, analysis, experiments, results), or torch headers in views/ or results/.
2. No source file (.h, .cpp) is over 600 lines.
3. The methods are the project's own: no source file or document refers to a methods contract outside the
   repository (the name of the old contract file, or the shared folder beside a checkout).
Usage: scripts/check-structure.py [SOURCE_DIR]; exit status 1 with one line per finding.
"""
import pathlib
import re
import sys

ROOT = pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else pathlib.Path(__file__).resolve().parent.parent)

# folder -> CMake target (the folder's CMakeLists.txt defines it)
LIBRARIES = {
    "core/base": "layerscope_base",
    "core/text": "layerscope_text",
    "core/data": "layerscope_data",
    "core/model": "layerscope_model",
    "core/train": "layerscope_train",
    "core/dist": "layerscope_dist",
    "analysis": "layerscope_analysis",
    "experiments": "layerscope_experiments",
    "results": "layerscope_results",
    "views": "layerscope_views",
    "app/gui": "layerscope_gui",
    "app/cli": "layerscope-cli-model",
}
# Second targets in a library's folder, checked on their own source lists only: the CLI launcher shares app/cli with
# the model half but must not link LibTorch (docs/design.md, "CLI start-up").
SUBTARGETS = {"layerscope-cli": "app/cli", "layerscope_model_files": "core/model"}
# Headers that belong to a second target of their folder (the torch-free half of core/model, which the launcher's
# `info` links); a second target with such a list may include only those of its folder's headers.
HEADER_TARGETS = {f"core/model/{h}": "layerscope_model_files"
                  for h in ("config.h", "names.h", "safetensors_header.h", "checkpoint_layout.h")}
NO_TORCH_TARGETS = {"layerscope-cli", "layerscope_model_files"}
NO_QT = ["core", "analysis", "experiments", "results"]
NO_TORCH = ["views", "results"]


def folder_of(include):
    best = None
    for folder in LIBRARIES:
        if include.startswith(folder + "/") and (best is None or len(folder) > len(best)):
            best = folder
    return best


def cmake_deps(folder, target):
    text = (ROOT / folder / "CMakeLists.txt").read_text()
    deps = set()
    for m in re.finditer(r"target_link_libraries\(\s*(\S+)(.*?)\)", text, re.S):
        if m.group(1) != target:
            continue
        for dep in re.findall(r"layerscope::(\w+)", m.group(2)):
            if dep != "warnings":
                deps.add("layerscope_" + dep)
    return deps


def target_sources(folder, target):
    """The .h/.cpp files named in add_executable/add_library/target_sources calls for `target` in the folder."""
    text = (ROOT / folder / "CMakeLists.txt").read_text()
    files = set()
    for m in re.finditer(r"(?:add_executable|add_library|target_sources)\(\s*(\S+)(.*?)\)", text, re.S):
        if m.group(1) == target:
            files |= {f for f in m.group(2).split() if f.endswith((".h", ".cpp"))}
    return files


def main():
    findings = []
    by_target = {t: f for f, t in LIBRARIES.items()}
    direct = {t: cmake_deps(f, t) for f, t in LIBRARIES.items()}

    def closure(t, seen=None):
        seen = set() if seen is None else seen
        for d in direct.get(t, ()):
            if d not in seen:
                seen.add(d)
                closure(d, seen)
        return seen

    for target, folder in SUBTARGETS.items():
        direct[target] = cmake_deps(folder, target)
    checks = list(LIBRARIES.items()) + [(f, t) for t, f in SUBTARGETS.items()]
    for folder, target in checks:
        allowed = closure(target) | {target}
        used = set()
        only = target_sources(folder, target) if folder in SUBTARGETS.values() else None
        files = sorted(p for p in (ROOT / folder).glob("*") if p.suffix in (".h", ".cpp"))
        if only is not None:
            # a target sharing its folder: its listed sources and the folder headers they include, transitively
            files, todo = [], [ROOT / folder / n for n in sorted(only)]
            while todo:
                f = todo.pop()
                if f in files or not f.exists():
                    continue
                files.append(f)
                for m in re.finditer(r'^\s*#\s*include\s+"([^"]+)"', f.read_text(errors="replace"), re.M):
                    if folder_of(m.group(1)) == folder:
                        todo.append(ROOT / m.group(1))
        for src in files:
            rel = src.relative_to(ROOT).as_posix()
            for n, line in enumerate(src.read_text(errors="replace").splitlines(), 1):
                m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                if m:
                    inc_folder = folder_of(m.group(1))
                    # the folder's own headers; an include marked "model half only" sits under #ifndef in a
                    # file shared with a launcher target
                    own = {h for h, t in HEADER_TARGETS.items() if t == target}
                    if own and inc_folder == folder and m.group(1) not in own:
                        findings.append(f"{rel}:{n}: includes {m.group(1)}, which is not part of {target}")
                    if inc_folder is None or inc_folder == folder or (
                            target in SUBTARGETS and "model half only" in line):
                        continue
                    inc_target = HEADER_TARGETS.get(m.group(1), LIBRARIES[inc_folder])
                    used.add(inc_target)
                    if inc_target not in allowed:
                        findings.append(f"{rel}:{n}: includes {m.group(1)} ({inc_target}), which {target} does not link")
                m = re.match(r"\s*#\s*include\s+<(Q\w*|torch/|ATen/|c10/)", line)
                if m:
                    top = rel.split("/")[0]
                    if m.group(1).startswith("Q") and top in NO_QT:
                        findings.append(f"{rel}:{n}: Qt header below views/ ({line.strip()})")
                    if not m.group(1).startswith("Q") and (top in NO_TORCH or target in NO_TORCH_TARGETS):
                        findings.append(f"{rel}:{n}: torch header in {top}/ ({line.strip()})")
        for dep in sorted(direct[target]):
            if dep in by_target and dep not in used:
                findings.append(f"{folder}/CMakeLists.txt: {target} links {dep} but no file of {folder}/ includes it")
    sources = [p for p in ROOT.rglob("*") if p.suffix in (".h", ".cpp", ".md", ".py", ".sh")
               and not any(part.startswith((".", "build")) for part in p.relative_to(ROOT).parts)]
    outside = re.compile("METHODS" + r"\.md|\.\./shared/|shared/" + "METHODS")
    for p in sources:
        text = p.read_text(errors="replace")
        rel = p.relative_to(ROOT).as_posix()
        if p.suffix in (".h", ".cpp") and text.count("\n") > 600:
            findings.append(f"{rel}: {text.count(chr(10))} lines (at most 600: split it by concept)")
        if p.name != "check-structure.py" and outside.search(text):
            findings.append(f"{rel}: refers to a methods file outside the repository (use docs/methods.md)")
    for f in findings:
        print(f)
    if not findings:
        print(f"structure: {len(LIBRARIES)} libraries, includes agree with the CMake target graph; "
              f"{len(sources)} files checked for length and references")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
