"""Check that a built wheel holds every tracked source and data file of the three installed packages.

Usage: python3 .ci/check_wheel.py dist/mu_registry-*.whl
Prints one line per missing file and exits 1 if any is missing.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

# source folder -> import name in the wheel (package-dir in pyproject.toml)
FOLDERS = {"mu_registry": "mu_registry", "plugins": "mu_registry_plugins", "tasks": "mu_registry_tasks"}


def expected_files(root: Path) -> list[str]:
    tracked = subprocess.run(["git", "ls-files", *FOLDERS], cwd=root, check=True, capture_output=True,
                             text=True).stdout.split()
    return [FOLDERS[path.split("/", 1)[0]] + "/" + path.split("/", 1)[1] for path in tracked]


def main(wheel: str) -> int:
    root = Path(__file__).resolve().parent.parent
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = [f for f in expected_files(root) if f not in names]
    for f in missing:
        print(f"{wheel}: missing {f}")
    if not missing:
        print(f"{wheel}: all {len(expected_files(root))} tracked package files present")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
