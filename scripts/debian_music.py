"""Real music the corpus lacks, from Debian: the soundtracks of free games, composed and produced by
people (orchestral, rock, electronic, chiptune, ambient) — and what the shipped local engine makes of it.

    python scripts/debian_music.py [--rebuild]   download the packages and build the cache (if missing)
    python scripts/debian_music.py --measure     false positives of the shipped engine, as markdown

`apt-get download` fetches the packages below into /tmp (no root needed, 2.2 GB); every Ogg Vorbis,
Opus or MP3 file of 30 s or more in a music folder (or in a *-music package) is decoded, identical
files once. The cache stores each track's per-window evidence (at most its middle 96 s) as a
train_dataset.Item (generator "debian-music", group = the package) and each track's package, path
and codec next to it (.json). Nothing is committed: the audio stays under each package's own licence
(/usr/share/doc/<package>/copyright; GPL, CC BY-SA, Artistic …). The tracks are credited to their
composers in free games, most of them written years before music generators were in use: every flag
is a false positive.
scripts/evaluate reports them (docs/accuracy.md).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path, PurePosixPath

os.environ.setdefault("OMP_NUM_THREADS", "1")  # one core: the other belongs to the team
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import av
import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parents[1]), str(Path(__file__).resolve().parent)]

from evaluate_local import table
from render_midi import Scored, score_all, split_tables
from train_dataset import DEBIAN_MUSIC, Item, decode, load, middle, save, window_evidence

from streamer.config import DecisionSettings
from streamer.types import SAMPLE_RATE

#: Debian packages with soundtracks (bookworm). Sound effects and ambience loops in the same
#: packages are left out by the folder rule in is_music.
PACKAGES = (
    "asc-music", "drascula-music", "extremetuxracer-data", "freedroidrpg-data", "hedgewars-data",
    "hyperrogue-music", "lincity-ng-data", "megaglest-data", "nexuiz-music", "planetblupi-music-ogg",
    "singularity-music", "supertux-data", "supertuxkart-data", "ufoai-music", "warzone2100-music",
    "wesnoth-1.16-music", "xmoto-data",
)  # fmt: skip
DEBS = Path("/tmp/aimd_debian_music_debs")
AUDIO_SUFFIXES = (".ogg", ".opus", ".mp3")
ARCHIVE_SUFFIX = ".pk3"  # a zip of game data (nexuiz, ufoai keep their music in one)
MIN_SECONDS = 30  # jingles and stingers are shorter
GENERATOR = "debian-music"


def is_music(package: str, path: str) -> bool:
    folders = PurePosixPath(path).parts[:-1]
    return package.endswith("-music") or any(folder.lower() in ("music", "musics") for folder in folders)


def download(packages: tuple[str, ...], into: Path) -> dict[str, Path]:
    """The .deb of each package, fetched once. A package the mirror lacks (another Debian release
    names it differently) is skipped with a warning; none at all is an error."""
    into.mkdir(parents=True, exist_ok=True)
    debs = lambda: {deb.name.split("_")[0]: deb for deb in into.glob("*.deb")}
    for package in (p for p in packages if p not in debs()):
        print(f"downloading {package} into {into}", file=sys.stderr)
        done = subprocess.run(["apt-get", "download", package], cwd=into, capture_output=True, text=True)
        if done.returncode != 0:
            print(f"debian_music: skipped {package}: {done.stderr.strip()[-200:]}", file=sys.stderr)
    found = {p: deb for p, deb in debs().items() if p in packages}
    if not found:
        sys.exit("debian_music: apt-get download fetched none of the packages (run `sudo apt-get update` first?)")
    if len(found) < len(packages):
        print(f"debian_music: {len(packages) - len(found)} of {len(packages)} packages missing: numbers are not comparable with a full set", file=sys.stderr)
    return found


def audio_files(package: str, deb: Path) -> Iterator[tuple[str, bytes]]:
    """(path, bytes) of every music file in a .deb, looking inside .pk3 archives too."""
    with subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(deb)], stdout=subprocess.PIPE) as unpack:
        assert unpack.stdout is not None
        with tarfile.open(fileobj=unpack.stdout, mode="r|") as tar:
            for member in tar:
                name = member.name.lower()
                if not member.isfile() or not name.endswith((*AUDIO_SUFFIXES, ARCHIVE_SUFFIX)):
                    continue
                data = tar.extractfile(member).read()  # type: ignore[union-attr]  # a file member has a body
                path = member.name.removeprefix("./")
                if name.endswith(ARCHIVE_SUFFIX):
                    with zipfile.ZipFile(io.BytesIO(data)) as archive:
                        for inner in archive.namelist():
                            if inner.lower().endswith(AUDIO_SUFFIXES) and is_music(package, f"{path}/{inner}"):
                                yield f"{path}/{inner}", archive.read(inner)
                elif is_music(package, path):
                    yield path, data


def codec(data: bytes) -> str:
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.audio[0]
        return f"{stream.codec_context.name} {stream.rate} Hz"


def build(cache: Path) -> None:
    os.nice(10)
    items, tracks, seen = [], {}, set()
    for package, deb in sorted(download(PACKAGES, DEBS).items()):
        for path, data in audio_files(package, deb):
            digest = hashlib.sha1(data).hexdigest()  # games ship one track per language or menu
            if digest in seen:
                continue
            seen.add(digest)
            try:
                mono = decode(io.BytesIO(data))
            except (av.FFmpegError, IndexError) as error:  # a few packaged files are truncated
                print(f"skipped {package}:{path}: {error}", file=sys.stderr)
                continue
            if len(mono) < MIN_SECONDS * SAMPLE_RATE:
                continue
            spectra, frames, floors = window_evidence(middle(mono))
            name = f"{package}:{path}"
            items.append(Item(name, "real", GENERATOR, package, "unknown", spectra, frames, floors))
            tracks[name] = {"package": package, "path": path, "codec": codec(data), "seconds": round(len(mono) / SAMPLE_RATE, 1)}
            print(f"\r{len(items)} tracks ({package})", end="", file=sys.stderr)
    print(file=sys.stderr)
    save(items, cache)
    cache.with_suffix(".json").write_text(json.dumps(tracks, indent=1))
    print(f"wrote {cache} ({len(items)} tracks, {sum(len(i.frames) for i in items)} windows)")


#: How --measure splits the tracks: title → the rows a track belongs to.
SPLITS: dict[str, Callable[[dict], list[str]]] = {"package": lambda t: [t["package"]], "codec": lambda t: [t["codec"]]}


def report(scored: list[Scored], decision: DecisionSettings, top: int = 12) -> str:
    sections = split_tables(scored, decision, "soundtrack tracks from Debian packages", SPLITS)
    highest = sorted(scored, key=lambda s: -s.piece)[:top]
    sections += [
        f"### The {top} tracks the engine liked least",
        table(
            ["track", "piece score", "window max", "codec", "evidence"],
            [[s.item.name, f"{s.piece:.3f}", f"{s.windows.max():.3f}", s.recipe["codec"], s.evidence] for s in highest],
        ),
    ]
    return "\n\n".join(sections)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rebuild", action="store_true", help="decode the packages again even if the cache exists")
    parser.add_argument("--measure", action="store_true", help="score the cache with the shipped engine and print markdown")
    args = parser.parse_args()
    tracks = DEBIAN_MUSIC.with_suffix(".json")
    if args.measure:
        if not DEBIAN_MUSIC.exists() or not tracks.exists():
            sys.exit(f"debian_music: {DEBIAN_MUSIC} or {tracks} is missing: build them first (without --measure)")
        print(report(score_all(load(DEBIAN_MUSIC), json.loads(tracks.read_text())), DecisionSettings()))
    elif DEBIAN_MUSIC.exists() and not args.rebuild:
        print(f"debian_music: {DEBIAN_MUSIC} exists (--rebuild decodes it again)")
    else:
        build(DEBIAN_MUSIC)


if __name__ == "__main__":
    main()
