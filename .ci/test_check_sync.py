"""The sync check's own test: on a scratch copy of the project (cleaned and exported, so it starts in sync), a notebook
given an output makes `check_sync.py` fail, name that notebook, and leave it byte for byte as it was. Usage: python .ci/test_check_sync.py"""
import json, shutil, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHECK = ROOT / '.ci' / 'check_sync.py'

with tempfile.TemporaryDirectory(prefix='poselift-sync-test-') as tmp:
    proj = Path(tmp)
    for t in ('nbs', 'poselift'):
        shutil.copytree(ROOT / t, proj / t, ignore=shutil.ignore_patterns('__pycache__', '.ipynb_checkpoints', '*.so'))
    for f in ('pyproject.toml', 'settings.ini', 'setup.py', 'README.md'): shutil.copy2(ROOT / f, proj / f)
    for cmd in ('nbdev-clean', 'nbdev-export'):               # the scratch copy in sync, whatever the working tree's state
        subprocess.run([str(Path(sys.executable).parent / cmd)], cwd=proj, check=True, capture_output=True)
    r = subprocess.run([sys.executable, str(CHECK), str(proj)], capture_output=True, text=True)
    assert r.returncode == 0, f'the clean copy should pass:\n{r.stdout}{r.stderr}'
    nb = proj / 'nbs' / '00_skeleton.ipynb'
    d = json.loads(nb.read_text())
    cell = next(c for c in d['cells'] if c['cell_type'] == 'code')
    cell['outputs'] = [{'output_type': 'stream', 'name': 'stdout', 'text': ['an output\n']}]
    cell['execution_count'] = 1
    nb.write_text(json.dumps(d, indent=1, ensure_ascii=False) + '\n')
    before = nb.read_bytes()
    r = subprocess.run([sys.executable, str(CHECK), str(proj)], capture_output=True, text=True)
    assert r.returncode != 0, f'a notebook with an output should fail the check:\n{r.stdout}'
    assert 'nbs/00_skeleton.ipynb' in r.stdout, f'the check should name the notebook:\n{r.stdout}'
    assert nb.read_bytes() == before, 'the check changed the notebook'
print('check_sync: a notebook with an output fails the check, is named, and is left as it was')
