"""`make vendor`: copy the pinned front-end files from node_modules/ (after `npm ci`) to
where ivrlog serves them (src/ivrlog/web/static/vendor/) or the browser tests load them
(tests/e2e/browser/vendor/), and write each one's package, version and SHA-256 to
vendor.json beside it. tests/unit/test_vendor.py checks the files against it and against
package-lock.json, so a file changed by hand, or a version bumped without `make vendor`,
fails the tests."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# (package, file in the package, directory it goes to)
FILES = [
    ("htmx.org", "dist/htmx.min.js", "src/ivrlog/web/static/vendor"),
    ("chart.js", "dist/chart.umd.js", "src/ivrlog/web/static/vendor"),
    ("axe-core", "axe.min.js", "tests/e2e/browser/vendor"),
]


def main() -> None:
    manifests: dict[Path, dict[str, dict[str, str]]] = {}
    for package, path, target in FILES:
        source = ROOT / "node_modules" / package / path
        version = json.loads((ROOT / "node_modules" / package / "package.json").read_text())
        directory = ROOT / target
        directory.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, directory / source.name)
        manifests.setdefault(directory, {})[source.name] = {
            "package": package,
            "version": version["version"],
            "path": path,
            "sha256": hashlib.sha256(source.read_bytes()).hexdigest(),
        }
    for directory, manifest in manifests.items():
        text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        (directory / "vendor.json").write_text(text)
        print(f"{directory.relative_to(ROOT)}: {', '.join(sorted(manifest))}")


if __name__ == "__main__":
    main()
