"""axe-core for the accessibility checks of the browser tests, fetched from the npm registry at test-setup time
(`npm pack`, pinned version) into a cache folder outside the repository; nothing of npm is committed."""
from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

import pytest

AXE_VERSION = '4.10.3'
CACHE = Path(os.environ.get('CVMS_AXE_CACHE', Path.home() / '.cache' / 'cvms-tests')) / f'axe-core-{AXE_VERSION}'
BLOCKING = ('serious', 'critical')


def axe_script() -> Path:
    """Path of axe.min.js, downloading the pinned package once."""
    target = CACHE / 'axe.min.js'
    if target.exists():
        return target
    npm = shutil.which('npm')
    if npm is None:
        if os.environ.get('CI'):
            pytest.fail('npm is needed to fetch axe-core for the accessibility checks')
        pytest.skip('accessibility checks need npm to fetch axe-core')
    with tempfile.TemporaryDirectory() as folder:
        subprocess.run([npm, 'pack', f'axe-core@{AXE_VERSION}', '--pack-destination', folder, '--silent'],
                       check=True, capture_output=True, timeout=120)
        [archive] = Path(folder).glob('axe-core-*.tgz')
        with tarfile.open(archive) as tar:
            member = tar.getmember('package/axe.min.js')
            data = tar.extractfile(member).read()
    CACHE.mkdir(parents=True, exist_ok=True)
    partial = target.with_suffix('.part')
    partial.write_bytes(data)
    partial.replace(target)
    return target


def serious_violations(page) -> list[dict]:  # noqa: ANN001
    """Run axe-core on the page as it is now; return its serious and critical violations."""
    # Quasar's loading bar shows briefly while an event is handled; check the page once it has settled.
    page.wait_for_function('![...document.querySelectorAll(".q-loading-bar")].some(e => e.offsetWidth > 0 '
                           '&& getComputedStyle(e).opacity !== "0")')
    if not page.evaluate('typeof window.axe !== "undefined"'):
        page.add_script_tag(path=str(axe_script()))
    result = page.evaluate('async () => await axe.run(document, {resultTypes: ["violations"]})')
    return [{'id': v['id'], 'impact': v['impact'], 'help': v['help'],
             'nodes': [(n['target'], n.get('failureSummary', '')[:200]) for n in v['nodes']][:3]}
            for v in result['violations'] if v.get('impact') in BLOCKING]


def assert_accessible(page, where: str) -> None:  # noqa: ANN001
    violations = serious_violations(page)
    assert not violations, f'axe-core found serious or critical problems on {where}: {violations}'
