"""axe-core for the accessibility checks of the browser tests, fetched from the npm registry at test-setup time
(`npm pack`, pinned version) into a cache folder outside the repository; nothing of npm is committed."""
from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.request
from pathlib import Path

import pytest

AXE_VERSION = '4.10.3'
AXE_TARBALL = f'https://registry.npmjs.org/axe-core/-/axe-core-{AXE_VERSION}.tgz'
AXE_INTEGRITY = 'sha512-Xm7bpRXnDSX2YE2YFfBk2FnF0ep6tmG7xPh8iHee8MIcrgq762Nkce856dYtJYLkuIoYZvGfTs/PbZhideTcEg=='
CACHE = Path(os.environ.get('CVMS_AXE_CACHE', Path.home() / '.cache' / 'cvms-tests')) / f'axe-core-{AXE_VERSION}'
BLOCKING = ('serious', 'critical')
EVERY_IMPACT = ('minor', 'moderate', 'serious', 'critical')


def axe_script() -> Path:
    """Path of axe.min.js, fetching the pinned package from the npm registry once (with `npm pack` when npm is
    installed, else the registry's tarball URL directly); the tarball's sha512 must match the registry's."""
    target = CACHE / 'axe.min.js'
    if target.exists():
        return target
    try:
        archive = _npm_pack() if shutil.which('npm') else _download()
    except (OSError, subprocess.SubprocessError) as error:
        if os.environ.get('CI'):
            pytest.fail(f'could not fetch axe-core {AXE_VERSION} from the npm registry: {error}')
        pytest.skip(f'accessibility checks need axe-core from the npm registry: {error}')
    digest = 'sha512-' + base64.b64encode(hashlib.sha512(archive).digest()).decode()
    assert digest == AXE_INTEGRITY, f'axe-core {AXE_VERSION} tarball does not match the registry integrity'
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        data = tar.extractfile(tar.getmember('package/axe.min.js')).read()
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix('.part')
    partial.write_bytes(data)
    partial.replace(target)
    return target


def _npm_pack() -> bytes:
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([shutil.which('npm') or 'npm', 'pack', f'axe-core@{AXE_VERSION}', '--pack-destination', folder,
                        '--silent'], check=True, capture_output=True, timeout=120)
        [archive] = Path(folder).glob('axe-core-*.tgz')
        return archive.read_bytes()


def _download() -> bytes:
    with urllib.request.urlopen(AXE_TARBALL, timeout=60) as response:  # noqa: S310 - fixed https URL
        return response.read()


def serious_violations(page) -> list[dict]:  # noqa: ANN001
    """Run axe-core on the page as it is now; return its serious and critical violations."""
    return violations(page, impacts=BLOCKING)


def violations(page, *, impacts: tuple[str, ...] = EVERY_IMPACT) -> list[dict]:  # noqa: ANN001
    """Run axe-core on the page as it is now; return its violations of the given impacts."""
    # Quasar's loading bar shows briefly while an event is handled; check the page once it has settled.
    page.wait_for_function('![...document.querySelectorAll(".q-loading-bar")].some(e => e.offsetWidth > 0 '
                           '&& getComputedStyle(e).opacity !== "0")')
    if not page.evaluate('typeof window.axe !== "undefined"'):
        page.add_script_tag(path=str(axe_script()))
    result = page.evaluate('async () => await axe.run(document, {resultTypes: ["violations"]})')
    return [{'id': v['id'], 'impact': v['impact'], 'help': v['help'],
             'nodes': [(n['target'], n.get('failureSummary', '')[:200]) for n in v['nodes']][:3]}
            for v in result['violations'] if v.get('impact') in impacts]


def assert_accessible(page, where: str) -> None:  # noqa: ANN001
    found = serious_violations(page)
    assert not found, f'axe-core found serious or critical problems on {where}: {found}'
