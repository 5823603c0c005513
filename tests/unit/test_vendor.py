"""The front-end files ivrlog serves and the browser tests load are the npm packages
pinned in package.json and package-lock.json, byte for byte (`make vendor` copies them
and writes vendor.json): a file edited by hand or a version bumped without `make
vendor` fails here."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
MANIFESTS = [
    ROOT / "src/ivrlog/web/static/vendor/vendor.json",
    ROOT / "tests/e2e/browser/vendor/vendor.json",
]


@pytest.mark.parametrize(
    "manifest", MANIFESTS, ids=lambda p: p.parent.name + "/" + p.parent.parent.name
)
def test_each_vendored_file_is_its_pinned_package_s(manifest: Path) -> None:
    pinned = json.loads((ROOT / "package.json").read_text())["devDependencies"]
    locked = json.loads((ROOT / "package-lock.json").read_text())["packages"]
    files = json.loads(manifest.read_text())
    assert files
    for name, source in files.items():
        body = (manifest.parent / name).read_bytes()
        assert hashlib.sha256(body).hexdigest() == source["sha256"], name
        assert pinned[source["package"]] == source["version"], name  # exact, no range
        assert locked[f"node_modules/{source['package']}"]["version"] == source["version"]
