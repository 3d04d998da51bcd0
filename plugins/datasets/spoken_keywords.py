"""Speech-Commands-style keyword spotting, spoken by Debian's ``espeak-ng``.

The ten Speech Commands keywords, each synthesised across voices, speaking
rates and pitches, resampled to ``sampling_rate`` and cut/padded to one
second. Generation takes a few seconds; the result is cached under the
mu-registry cache folder, keyed by every setting and the espeak-ng version.
Audio is decoded with soundfile (the ``datasets`` Audio feature's torchcodec
does not load beside CPU torch).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np

from mu_registry import MuError, Split, atomic_write, cache_dir

from .splitting import stratified_splits

KEYWORDS = ("yes", "no", "up", "down", "left", "right", "on", "off", "stop", "go")
VOICES = ("en-us", "en-gb", "en-gb-scotland", "en-gb-x-rp", "en-029", "en-us+f2", "en-gb+f4", "en-us+m3")
SPEEDS = (110, 140, 170, 200)
PITCHES = (30, 50, 70)


def _espeak() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise MuError("espeak-ng is not installed: apt-get install espeak-ng")
    return exe


def synthesize(word: str, voice: str, speed: int, pitch: int, rate: int, workdir: Path) -> np.ndarray:
    import soundfile as sf
    from scipy.signal import resample_poly

    out = workdir / "clip.wav"
    subprocess.run([_espeak(), "-v", voice, "-s", str(speed), "-p", str(pitch), "-w", str(out), word],
                   check=True, capture_output=True)
    wav, sr = sf.read(out, dtype="float32")
    if wav.ndim > 1:
        wav = wav.mean(axis=1)
    g = np.gcd(sr, rate)
    wav = resample_poly(wav, rate // g, sr // g).astype(np.float32)
    clip = np.zeros(rate, dtype=np.float32)
    clip[:min(rate, len(wav))] = wav[:rate]
    return clip


def spoken_keywords(words: list[str] | None = None, voices: list[str] | None = None, speeds: list[int] | None = None,
                    pitches: list[int] | None = None, sampling_rate: int = 8000) -> dict[str, Split]:
    """Splits 'train'/'test' (75/25, stratified): 'audio' (float32 N×rate) and 'label' (index into words)."""
    words, voices = list(words or KEYWORDS), list(voices or VOICES)
    speeds, pitches = list(speeds or SPEEDS), list(pitches or PITCHES)
    version = subprocess.run([_espeak(), "--version"], capture_output=True, text=True).stdout.strip()
    key = hashlib.sha256(json.dumps([words, voices, speeds, pitches, sampling_rate, version]).encode()).hexdigest()[:16]
    path = cache_dir() / "datasets" / f"spoken_keywords-{key}.npz"
    if path.exists():
        data = np.load(path)
        audio, labels = data["audio"], data["label"]
    else:
        clips, labels_list = [], []
        with tempfile.TemporaryDirectory() as tmp:
            for label, word in enumerate(words):
                for voice in voices:
                    for speed in speeds:
                        for pitch in pitches:
                            clips.append(synthesize(word, voice, speed, pitch, sampling_rate, Path(tmp)))
                            labels_list.append(label)
        audio, labels = np.stack(clips), np.asarray(labels_list, dtype=np.int64)

        def write(fh):
            np.savez(fh, audio=audio, label=labels)
        atomic_write(path, write)
    return stratified_splits({"audio": audio, "label": labels}, labels, 0.25)
