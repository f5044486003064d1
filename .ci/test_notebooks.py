"""Run every notebook's tests (nbdev's `test_nb`), each in its own process, and close with `N passed, N failed, N skipped`.

A check that needs the developers' shared folder and does not find it is skipped (`poselift.testing.shared_data`), not
failed, except under CI=true; each skip is listed with its reason under its notebook and counted in the closing line.

Usage: python .ci/test_notebooks.py [--workers N] [--timeout S] [--skip-flags FLAG ...] [NOTEBOOK_OR_FOLDER ...]
Exits non-zero when any notebook fails. Names starting with `_` or `.` are skipped, as nbdev does.
"""
import argparse, os, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THREADS = 1  # CPU threads per notebook process (cores / workers)
# The notebooks that train for minutes, longest first: started before the short ones so that the workers end together
# (in name order the longest started last and the run took its length past the others). Paths relative to nbs/.
LONGEST = ('experiments/transfer.ipynb', 'experiments/pretrain_vs_scratch.ipynb', '38_report.ipynb', '95_cli.ipynb',
           'experiments/compare.ipynb')

def longest_first(nbs):
    "`nbs` with those named in `LONGEST` first, in its order; the rest keep theirs."
    rank = {(ROOT / 'nbs' / p).resolve(): i for i, p in enumerate(LONGEST)}
    return sorted(nbs, key=lambda nb: rank.get(Path(nb).resolve(), len(rank)))   # stable: name order among the rest

def find_notebooks(paths):
    "Notebooks under `paths` (files or folders), in name order, skipping `_`/`.`-prefixed names and checkpoints."
    found = []
    for p in map(Path, paths):
        cands = [p] if p.is_file() else sorted(p.rglob('*.ipynb'))
        for nb in cands:
            rel = nb.relative_to(p) if p.is_dir() else Path(nb.name)
            if any(part.startswith(('_', '.')) for part in rel.parts): continue
            found.append(nb)
    return found

RUNNER = """
import sys
from nbdev.test import test_nb
ok, secs = test_nb(sys.argv[1], skip_flags=sys.argv[2].split() or None, basepath=sys.argv[3])
from poselift.testing import SKIPPED      # the notebook ran in this process: its skipped checks are here
for reason in SKIPPED: print('SKIPPED:', reason)
sys.exit(0 if ok else 1)
"""

def run_one(nb, skip_flags, timeout):
    "Test one notebook in a fresh interpreter; return (notebook, passed, seconds, output)."
    t0 = time.time()
    env = {**os.environ, 'IN_TEST': '1', 'PYTHONUNBUFFERED': '1', 'MPLBACKEND': 'Agg'}
    env.setdefault('OMP_NUM_THREADS', str(THREADS))  # notebooks run side by side: no oversubscribed cores
    try:
        r = subprocess.run([sys.executable, '-c', RUNNER, str(nb), ' '.join(skip_flags), str(ROOT)],
                           capture_output=True, text=True, timeout=timeout, env=env, stdin=subprocess.DEVNULL)
        return nb, r.returncode == 0, time.time() - t0, r.stdout + r.stderr
    except subprocess.TimeoutExpired as e:
        return nb, False, time.time() - t0, f'timed out after {timeout} s\n{e.stdout or ""}{e.stderr or ""}'

def excerpt(lines, head=25, tail=35):
    "The first `head` and last `tail` lines: the failing cell and its error come first, a long message (a tensor) last."
    if len(lines) <= head + tail: return lines
    return [*lines[:head], f'[... {len(lines) - head - tail} lines ...]', *lines[-tail:]]

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('paths', nargs='*', default=[str(ROOT / 'nbs')])
    ap.add_argument('--workers', type=int, default=int(os.environ.get('NB_WORKERS', 2)))
    ap.add_argument('--timeout', type=int, default=1200, help='seconds per notebook')
    ap.add_argument('--skip-flags', nargs='*', default=['notest', 'gpu', 'benchmark'],
                    help='cells with these nbdev flags are not run (gpu: needs CUDA; benchmark: timings)')
    a = ap.parse_args()
    global THREADS
    THREADS = max(1, (os.cpu_count() or 1) // max(1, a.workers))
    nbs = longest_first(find_notebooks(a.paths))
    print(f"skipping cells flagged: {', '.join(a.skip_flags) or 'none'}", flush=True)
    if not nbs: sys.exit('no notebooks found under ' + ' '.join(a.paths))
    passed, failed, skipped, t0 = 0, [], [], time.time()
    with ThreadPoolExecutor(a.workers) as ex:
        for nb, ok, secs, out in ex.map(lambda nb: run_one(nb, a.skip_flags, a.timeout), nbs):
            print(f"{'PASS' if ok else 'FAIL'}  {secs:6.1f} s  {nb.relative_to(ROOT) if nb.is_absolute() and ROOT in nb.parents else nb}", flush=True)
            skips = [l.removeprefix('SKIPPED: ') for l in out.splitlines() if l.startswith('SKIPPED: ')]
            for reason in skips: print(f'      skipped: {reason}', flush=True)
            skipped += [(nb.name, r) for r in skips]
            if ok: passed += 1
            else:
                failed.append(nb)
                print('\n'.join('      | ' + l for l in excerpt(out.strip().splitlines())), flush=True)
    print(f'notebook tests took {time.time() - t0:.0f} s')
    if skipped:
        print('skipped checks (the shared folder is missing; CI=true would fail them instead):')
        for name, reason in skipped: print(f'  {name}: {reason}')
    print(f'{passed} passed, {len(failed)} failed, {len(skipped)} skipped')
    sys.exit(1 if failed else 0)

if __name__ == '__main__': main()
