"""Known vulnerabilities in the pinned requirements (pyproject.toml, with the test extra), by pip-audit against its
advisory service (issue 12). Without network the test is skipped with a line saying so: an unreachable service
must not fail CI, a reported vulnerability must."""
from __future__ import annotations

import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def pinned_requirements() -> list[str]:
    project = tomllib.loads((ROOT / 'pyproject.toml').read_text())['project']
    wanted = [*project['dependencies'], *project['optional-dependencies']['test']]
    unpinned = [r for r in wanted if '==' not in r]
    assert not unpinned, f'every requirement is pinned with ==: {unpinned}'
    return wanted


def test_pinned_requirements_have_no_known_vulnerabilities(tmp_path: Path) -> None:
    requirements = tmp_path / 'requirements.txt'
    requirements.write_text('\n'.join(pinned_requirements()) + '\n')
    try:
        result = subprocess.run(  # noqa: S603 - our own interpreter and file
            [sys.executable, '-m', 'pip_audit', '--requirement', str(requirements), '--no-deps', '--disable-pip',
             '--progress-spinner', 'off', '--format', 'json', '--timeout', '20'],
            capture_output=True, text=True, timeout=180)
    except subprocess.TimeoutExpired:
        pytest.skip('pip-audit: the advisory service did not answer within 3 minutes; dependencies NOT checked')
    if result.returncode != 0 and not result.stdout.strip().startswith('{'):
        if re.search(r'connect|resolve|timed? ?out|network|unreachable|SSL|HTTP', result.stderr, re.IGNORECASE):
            pytest.skip('pip-audit: the advisory service is unreachable; dependencies NOT checked: '
                        + result.stderr.strip().splitlines()[-1][:200])
        pytest.fail(f'pip-audit failed:\n{result.stderr[-2000:]}')
    report = json.loads(result.stdout)
    unchecked = [d['name'] for d in report['dependencies'] if d.get('skip_reason')]
    if len(unchecked) == len(report['dependencies']):  # e.g. a package mirror without the advisory service
        pytest.skip('pip-audit: the advisory service answered for none of the pinned requirements; dependencies '
                    'NOT checked')
    found = [f'{d["name"]} {d["version"]}: {v["id"]} (fixed in {", ".join(v["fix_versions"]) or "no release"})'
             for d in report['dependencies'] for v in d.get('vulns', [])]
    assert not found, 'known vulnerabilities in pinned requirements:\n' + '\n'.join(found)
    assert not unchecked, f'pip-audit could not check: {unchecked}'


def test_nicegui_is_past_the_run_method_advisory() -> None:
    """GHSA-78qv-3mpx-9cqq (eval in runMethod, XSS through a method name) is fixed in NiceGUI 3.8.0."""
    [nicegui] = [r for r in pinned_requirements() if r.startswith('nicegui==')]
    version = tuple(int(part) for part in nicegui.split('==')[1].split('.')[:2])
    assert version >= (3, 8)
