"""Check that the notebooks are clean and the package is what they export, on a copy: the working tree is never written.

Usage: python .ci/check_sync.py [ROOT]     (ROOT: the project folder, default the one holding .ci/)
Copies nbs/, the package and the nbdev settings into a temporary folder, runs `nbdev-clean` and `nbdev-export` there,
and compares the copy with the working tree. Prints the files that differ (a notebook carrying outputs or unclean
metadata, a module that is not what its notebook exports) and exits non-zero; otherwise prints that they agree.
"""
import filecmp, shutil, subprocess, sys, tempfile
from pathlib import Path

ROOT = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent).resolve()
BIN = Path(sys.executable).parent                        # nbdev-clean / nbdev-export of the same environment
TREES = ('nbs', 'poselift')                              # what the two commands write
FILES = ('pyproject.toml', 'settings.ini', 'setup.py', 'README.md')   # what they read
IGNORE = shutil.ignore_patterns('__pycache__', '.ipynb_checkpoints', '*.pyc', '*.so')

def files(root:Path) -> set[str]:
    "Paths of the files under `root`'s checked trees, relative to `root`."
    return {str(p.relative_to(root)) for t in TREES for p in (root / t).rglob('*')
            if p.is_file() and not any(s in p.parts for s in ('__pycache__', '.ipynb_checkpoints')) and p.suffix not in ('.pyc', '.so')}

def main():
    with tempfile.TemporaryDirectory(prefix='poselift-sync-') as tmp:
        copy = Path(tmp)
        for t in TREES: shutil.copytree(ROOT / t, copy / t, ignore=IGNORE, symlinks=True)
        for f in FILES:
            if (ROOT / f).exists(): shutil.copy2(ROOT / f, copy / f)
        for cmd in ('nbdev-clean', 'nbdev-export'):
            r = subprocess.run([str(BIN / cmd)], cwd=copy, capture_output=True, text=True, stdin=subprocess.DEVNULL)
            if r.returncode:
                print(f'FAIL: {cmd} failed on a copy of the tree:\n{r.stdout}{r.stderr}')
                print('0 passed, 1 failed'); sys.exit(1)
        before, after = files(ROOT), files(copy)
        differ = sorted((before ^ after) | {f for f in before & after if not filecmp.cmp(ROOT / f, copy / f, shallow=False)})
    if differ:
        print('FAIL: notebooks and package are not in sync (nbdev-clean / nbdev-export on a copy changed these files;'
              ' the working tree was left as it was):')
        for f in differ: print(f'  {f}' + ('' if f in before else '  (would be created)') + ('' if f in after else '  (would be removed)'))
        print('fix: .venv/bin/nbdev-clean && .venv/bin/nbdev-export, then review and commit the changes')
        print('0 passed, 1 failed'); sys.exit(1)
    print('notebooks are clean and the package is what they export (checked on a copy)')

if __name__ == '__main__': main()
