"""Install the dbt packages: from the dbt package hub when it answers, else from a local folder.

The offline folder (``DBT_OFFLINE_PACKAGES``, default
``~/.cache/healthcare-warehouse/dbt-packages``) holds one sub-folder per package, named as the
package's dbt project (``dbt_utils``, ``dbt_expectations``, ``dbt_date``), each a checkout of the
pinned release. This serves air-gapped networks as well as machines that reach only the Python
package index.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from loaders import config

log = logging.getLogger(__name__)

OFFLINE_ENV = "DBT_OFFLINE_PACKAGES"
PACKAGES_DIR = config.PROJECT_ROOT / "dbt_packages"


class MissingPackagesError(RuntimeError):
    pass


def offline_dir() -> Path:
    if os.environ.get(OFFLINE_ENV):
        return Path(os.environ[OFFLINE_ENV]).expanduser()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    return cache / "healthcare-warehouse" / "dbt-packages"


def _hub_package_names(packages_file: Path) -> list[str]:
    """Package names (the part after the slash) of the hub packages a packages.yml asks for."""
    if not packages_file.exists():
        return []
    entries = (yaml.safe_load(packages_file.read_text()) or {}).get("packages") or []
    return [entry["package"].split("/")[-1] for entry in entries if "package" in entry]


def required_packages(folder: Path) -> list[str]:
    """The project's packages and, through their own packages.yml, what they bring."""
    wanted = _hub_package_names(config.PROJECT_ROOT / "packages.yml")
    seen: list[str] = []
    while wanted:
        name = wanted.pop(0)
        if name in seen:
            continue
        seen.append(name)
        wanted.extend(_hub_package_names(folder / name / "packages.yml"))
    return seen


def install_from_hub(timeout: int = 300) -> tuple[bool, str]:
    """Run ``dbt deps``; returns whether it worked and its last output line."""
    try:
        result = subprocess.run(
            [str(Path(sys.executable).parent / "dbt"), "deps"],
            cwd=config.PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, str(exc)
    output = (result.stdout + result.stderr).strip().splitlines()
    last = output[-1] if output else ""
    ok = result.returncode == 0 and all(
        (PACKAGES_DIR / name / "dbt_project.yml").exists()
        for name in _hub_package_names(config.PROJECT_ROOT / "packages.yml")
    )
    return ok, last


def install_offline(folder: Path | None = None) -> list[str]:
    """Copy every required package from the offline folder into ``dbt_packages/``."""
    folder = folder or offline_dir()
    names = required_packages(folder)
    missing = [name for name in names if not (folder / name / "dbt_project.yml").exists()]
    if missing:
        raise MissingPackagesError(
            f"dbt package(s) {', '.join(missing)} missing from the offline folder {folder} "
            f"(set {OFFLINE_ENV} to another folder, or stage each package as "
            f"{folder}/<package_name> from its pinned release)"
        )
    PACKAGES_DIR.mkdir(exist_ok=True)
    for name in names:
        target = PACKAGES_DIR / name
        if target.exists() or target.is_symlink():
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink()
        shutil.copytree(folder / name, target)
        log.info("installed %s from %s", name, folder / name)
    return names


def install() -> str:
    """Install the packages; returns a sentence saying where they came from."""
    ok, last = install_from_hub()
    if ok:
        return "dbt packages installed from the dbt package hub"
    log.warning("dbt deps could not use the package hub (%s); using the offline folder", last)
    names = install_offline()
    return f"dbt packages installed from the offline folder {offline_dir()}: {', '.join(names)}"
