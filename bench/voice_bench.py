"""CPU time and memory of the voice comparison on real (espeak-ng) speech; prints figures, asserts nothing.

Run from the repository root: ``uv run python -m bench.voice_bench``. The speech is synthesised first
(not timed) and saved; each case is then measured in a fresh process that loads only the decoded
samples, so its memory figures are those of an analysis server process, not of the synthesis. Each
measuring process is single-threaded on purpose (the targets are per core): BLAS threads are pinned
to one before numpy loads. CPU is ``time.process_time`` around ``compare``, the median of several
runs. Memory is the process's peak resident set during one comparison (Linux's VmHWM, reset through
/proc/self/clear_refs just before; it includes the interpreter, numpy and scipy, whose resident size
before the comparison is printed beside it) and tracemalloc's peak of the comparison's allocations.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

CLIP = "Never give up on the things that make you smile, my friend, because they matter most."
SCRIPT = (
    "The old lighthouse keeper climbed the winding stairs every evening, carrying a lamp and a small "
    "notebook. He wrote down the colour of the sky, the height of the waves and the names of the ships "
    "that passed in the distance. Nobody had asked him to keep these records, but he believed that one "
    "day somebody would want to know how the sea had behaved on an ordinary Tuesday in late October. "
)


def _memory_mb(field: str) -> float:
    """VmRSS (resident now) or VmHWM (peak resident since start or the last reset) in MB."""
    match = re.search(rf"^{field}:\s+(\d+) kB", Path("/proc/self/status").read_text(), flags=re.MULTILINE)
    assert match, f"no {field} in /proc/self/status"
    return int(match.group(1)) / 1024


def _prepare(folder: Path) -> list[tuple[str, Path, int]]:
    """Synthesises each case's reference and user speech into ``folder``; returns (name, file, runs)."""
    import numpy as np
    from tests.support.speech import Voice, synthesize

    def text_lasting(seconds: float, passage: str) -> str:
        copies = 1
        while synthesize(passage * copies, Voice("en-us")).duration < seconds:
            copies += 1
        return passage * copies

    cases = [
        ("5 s clip", CLIP, Voice("en-us+f3", rate=150), 20),
        ("60 s script", text_lasting(60.0, SCRIPT), Voice("en-us+m3", rate=170), 5),
        ("120 s script", text_lasting(120.0, SCRIPT), Voice("en-us+f3", rate=150), 3),
    ]
    prepared = []
    for index, (name, text, user_voice, runs) in enumerate(cases):
        reference, user = synthesize(text, Voice("en-us")), synthesize(text, user_voice)
        path = folder / f"case{index}.npz"
        words = json.dumps([[word.text, word.start, word.end] for word in reference.words])
        np.savez(path, reference=reference.samples, user=user.samples, words=np.array(words))
        prepared.append((name, path, runs))
    return prepared


def _measure(path: Path, runs: int) -> dict[str, float]:
    """Runs in the measuring process: numpy loads only after BLAS is pinned to one thread."""
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ[variable] = "1"
    import numpy as np

    from domain.voice import WordTiming, compare

    with np.load(path) as stored:
        reference, user = stored["reference"], stored["user"]
        words = [WordTiming(text, start, end) for text, start, end in json.loads(str(stored["words"]))]
    rate = 16_000
    compare(user, reference, rate, words)  # fills the filterbank caches
    cpu = []
    for _ in range(runs):
        started = time.process_time()
        result = compare(user, reference, rate, words)
        cpu.append(time.process_time() - started)
    resident_before = _memory_mb("VmRSS")
    Path("/proc/self/clear_refs").write_text("5")
    compare(user, reference, rate, words)
    peak_resident = _memory_mb("VmHWM")
    tracemalloc.start()
    compare(user, reference, rate, words)
    _, peak_allocated = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return {
        "reference_seconds": reference.size / rate,
        "user_seconds": user.size / rate,
        "words": len(words),
        "runs": runs,
        "cpu_ms": statistics.median(cpu) * 1000,
        "cpu_min_ms": min(cpu) * 1000,
        "cpu_max_ms": max(cpu) * 1000,
        "peak_mb": peak_resident,
        "resident_before_mb": resident_before,
        "allocated_mb": peak_allocated / 2**20,
        "overall": result.scores.overall,
    }


def _print(name: str, figures: dict[str, float]) -> None:
    print(
        f"{name}: reference {figures['reference_seconds']:.1f} s, user {figures['user_seconds']:.1f} s, "
        f"{figures['words']} words\n"
        f"  CPU per comparison: median {figures['cpu_ms']:.0f} ms "
        f"(min {figures['cpu_min_ms']:.0f}, max {figures['cpu_max_ms']:.0f}, {figures['runs']} runs)\n"
        f"  peak resident memory during one comparison: {figures['peak_mb']:.0f} MB "
        f"(resident before it: {figures['resident_before_mb']:.0f} MB)\n"
        f"  peak allocated by the comparison (tracemalloc): {figures['allocated_mb']:.1f} MB\n"
        f"  overall score {figures['overall']}",
        flush=True,
    )


def measure_in_child(path: Path, runs: int) -> dict[str, float]:
    """``_measure`` in a fresh single-threaded process (as an analysis server runs it), as a dict."""
    command = [sys.executable, "-m", "bench.voice_bench", "--json", str(path), str(runs)]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    figures: dict[str, float] = json.loads(done.stdout)
    return figures


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--json":
        print(json.dumps(_measure(Path(sys.argv[2]), int(sys.argv[3]))))
        return
    with tempfile.TemporaryDirectory() as folder:
        for name, path, runs in _prepare(Path(folder)):
            _print(name, measure_in_child(path, runs))


if __name__ == "__main__":
    main()
