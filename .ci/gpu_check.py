"""The GPU check (`make gpu-check`): the `gpu`-flagged cells, then a table of what CUDA gives, in under 8 minutes.

Usage: python .ci/gpu_check.py [--device cuda] [--steps 30] [--skip-cells]

1. Runs every notebook cell flagged `#| gpu` (with the rest of its notebook) through the project's test runner.
2. Times DSTFormer training steps (MotionBERT-Lite's shape, 243-frame windows, synthetic motion) on the CPU (float32,
   batch 4: batch 32 needs more than 20 GB there) and on the device at batch 32 in float32, bfloat16 and float16 (with
   its gradient scaler), in windows/s, and records each one's peak device memory.
3. Forces a real out-of-memory error (a per-process memory cap, batch 256) and shows the learner's fallback: the
   same step in micro-batches.
4. A short pretraining on the device: MotionBERT's 3D pretraining task (noised, masked 2D) for a few hundred steps.
Prints one table; exits non-zero when a step fails or a loss is not finite. `--device cpu` dry-runs the script.
"""
import argparse, math, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--device', default='cuda')
    ap.add_argument('--steps', type=int, default=30, help='timed steps per precision')
    ap.add_argument('--pretrain-steps', type=int, default=300)
    ap.add_argument('--skip-cells', action='store_true', help='do not run the gpu-flagged notebook cells')
    a = ap.parse_args()
    import torch
    from poselift.data import DataConfig, PoseWindows
    from poselift.camera import NoiseConfig
    from poselift.model import DSTFormer, preset
    from poselift.synthetic import synthetic_dataset
    from poselift.train import Learner, TrainConfig
    dev = a.device
    if dev == 'cuda' and not torch.cuda.is_available(): sys.exit('gpu-check: no CUDA device here (torch.cuda.is_available() is False)')
    rows, t_start = [], time.time()
    if not a.skip_cells:
        t0 = time.time()
        r = subprocess.run([sys.executable, str(ROOT / '.ci' / 'test_notebooks.py'), '--skip-flags', 'notest', 'benchmark', '--workers', '1',
                            str(ROOT / 'nbs' / '30_train.ipynb')], capture_output=True, text=True)
        print(r.stdout[-3000:]); rows.append(('gpu-flagged cells (30_train)', 'passed' if r.returncode == 0 else 'FAILED', f'{time.time() - t0:.0f} s', ''))
    motions = synthetic_dataset(n_subjects=2, n_frames=600, fps=60, seed=4)
    far = {'distance': (12.0, 16.0)}                                   # 243 synthetic frames travel far: cameras stand back
    lite, data = preset('motionbert-lite'), DataConfig(n_frames=243, seed=0, camera_kwargs=far)
    def run(device, precision, batch, steps, task=None, data_cfg=data):
        torch.manual_seed(0)
        learn = Learner(DSTFormer(lite), PoseWindows(motions, data_cfg), None, task,
                        TrainConfig(max_steps=steps, epochs=None, batch_size=batch, precision=precision, progress=False, device=device))
        if device == 'cuda': torch.cuda.reset_peak_memory_stats(); torch.cuda.synchronize()
        t0 = time.perf_counter(); learn.fit()
        if device == 'cuda': torch.cuda.synchronize()
        secs = time.perf_counter() - t0
        peak = f'{torch.cuda.max_memory_allocated() / 2**30:.2f} GiB' if device == 'cuda' else ''
        if not math.isfinite(learn.last['loss']): raise SystemExit(f'gpu-check: {device} {precision}: loss {learn.last["loss"]}')
        return learn, secs, peak
    _, cpu_s, _ = run('cpu', 'fp32', 4, 2)                          # batch 4: 32 windows of 243 frames need >20 GB on the CPU
    cpu_rate = 2 * 4 / cpu_s
    rows.append(('train step, CPU fp32, batch 4 x 243 frames', f'{cpu_rate:.1f} windows/s', '1.0x', ''))
    batch = 32 if dev == 'cuda' else 4
    for precision in (('fp32', 'bf16', 'fp16') if dev == 'cuda' else ('fp32',)):
        learn, secs, peak = run(dev, precision, batch, a.steps)
        rate = a.steps * batch / secs
        rows.append((f'train step, {dev} {precision}, batch {batch} x 243 frames', f'{rate:.1f} windows/s ({a.steps / secs:.2f} steps/s)', f'{rate / cpu_rate:.1f}x', peak))
    if dev == 'cuda':
        total = torch.cuda.get_device_properties(0).total_memory
        torch.cuda.set_per_process_memory_fraction(4 * 2**30 / total)
        try:
            learn, secs, peak = run('cuda', 'bf16', 256, 2)
            ok = learn.splits > 1
            rows.append(('batch 256 under a 4 GiB cap: out of memory, then', f'{learn.splits} micro-batches per step', 'fallback ok' if ok else 'NO FALLBACK', peak))
        finally:
            torch.cuda.set_per_process_memory_fraction(1.0); torch.cuda.empty_cache()
    pre = DataConfig(n_frames=243, seed=0, camera_kwargs=far, noise=NoiseConfig(), mask_joint_ratio=0.05, mask_frame_ratio=0.1)
    learn, secs, peak = run(dev, 'bf16' if dev == 'cuda' else 'fp32', batch, a.pretrain_steps, data_cfg=pre)
    rows.append((f'3D pretraining (noised, masked 2D), {a.pretrain_steps} steps', f'{a.pretrain_steps / secs:.2f} steps/s', f'loss {learn.last["loss"]:.4f}', peak))
    w = max(len(r[0]) for r in rows)
    print(f'\n{"what":{w}}  {"result":>28}  {"vs CPU / note":>14}  peak memory')
    for r in rows: print(f'{r[0]:{w}}  {r[1]:>28}  {r[2]:>14}  {r[3]}')
    print(f'\ngpu-check took {time.time() - t_start:.0f} s on {torch.cuda.get_device_name(0) if dev == "cuda" else "the CPU (dry run)"}, torch {torch.__version__}')
    if any(r[1] == 'FAILED' or r[2] == 'NO FALLBACK' for r in rows): sys.exit(1)

if __name__ == '__main__': main()
