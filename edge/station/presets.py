"""Camera-program presets: what ``[watch] preset`` means, so a station reads another program's tree as written.

A preset is a set of defaults for ``[watch]`` (recursion, name patterns, sub-folders to skip, the name's
time convention) and ``[frames] quarantine = "list"``: the files belong to the camera program (and, for
indi-allsky, to its database), so the station never moves them. Keys set explicitly in the TOML (or on
the command line) win over the preset's. Names and EXIF from both programs are stamped in the camera
host's local time, so ``[watch] timezone`` has to name that zone; no preset can guess it.

Taken from the programs' own source:

- ``indi-allsky`` (github.com/aaronwmorris/indi-allsky): ``indi_allsky/image.py`` ``write_img`` copies each
  exposure to ``<IMAGE_FOLDER>/ccd_<camera uuid>/exposures/<day date YYYYMMDD>/night|day/<DD_HH>/`` as
  ``filename_t = 'ccd{camera_id}_{exp_date:%Y%m%d_%H%M%S}.{IMAGE_FILE_TYPE}'`` (``_getImageFolder``), and
  ``images/latest.<ext>`` as a copy of the newest. ``exp_date`` is ``datetime.fromtimestamp(exp_time)``,
  local time, and EXIF ``DateTimeOriginal`` holds that same local clock without ``OffsetTimeOriginal``.
  ``indi_allsky/config.py`` defaults: ``IMAGE_FILE_TYPE = "jpg"``, ``IMAGE_FOLDER =
  "/var/www/html/allsky/images"``, ``IMAGE_SAVE_FITS = True`` (the same exposure again, under ``fits/``).
  Thumbnails (``.../<DD_HH>/thumbnails/<uuid>.jpg``, ``flask/miscDb.py``), panoramas, keograms, raw
  exports and FITS copies are other files, and ``latest.jpg`` repeats an exposure already taken: the
  patterns take the exposures only.
- ``allsky`` (AllSky, github.com/AllskyTeam/allsky): ``src/capture_ZWO.cpp`` and ``src/capture_RPi.cpp`` name
  each exposure ``<filename stem>-<exposure start %Y%m%d%H%M%S>.<ext>`` with ``formatTime`` (local time,
  ``src/allsky_common.cpp``); ``filename`` defaults to ``image.jpg`` (``config_repo/options.json.repo``,
  ``.jpg`` or ``.png``). ``scripts/saveImage.sh`` copies it to ``~/allsky/images/<YYYYMMDD>/`` (the night's
  date: ``date -d '12 hours ago'``), writes a thumbnail of the same name under ``<YYYYMMDD>/thumbnails/``
  (``imagecreatethumbnails`` defaults to true) and moves the newest to ``image.jpg``, which repeats it.
- ``plain``: the station's own defaults (one flat folder, ``*_YYYYMMDD_HHMMSS`` names in UTC).
"""
from __future__ import annotations

from typing import Any, Literal, get_args

PresetName = Literal["plain", "indi-allsky", "allsky"]
PRESETS: tuple[str, ...] = get_args(PresetName)

#: ``[watch]`` defaults of each preset
WATCH: dict[str, dict[str, Any]] = {
    "plain": {},
    "indi-allsky": {
        "recursive": True,
        "patterns": ["ccd*_????????_??????.jpg", "ccd*_????????_??????.jpeg", "ccd*_????????_??????.png"],
        "exclude_dirs": ["thumbnails"],
        "capture_time_regex": r"_(\d{8}_\d{6})\.",
        "capture_time_format": "%Y%m%d_%H%M%S",
    },
    "allsky": {
        "recursive": True,
        "patterns": ["*-??????????????.jpg", "*-??????????????.png"],
        "exclude_dirs": ["thumbnails"],
        "capture_time_regex": r"-(\d{14})\.",
        "capture_time_format": "%Y%m%d%H%M%S",
    },
}
#: ``[frames]`` defaults of each preset: another program's files are listed, never moved
FRAMES: dict[str, dict[str, Any]] = {
    "plain": {},
    "indi-allsky": {"quarantine": "list"},
    "allsky": {"quarantine": "list"},
}


def apply(raw: Any) -> Any:
    """The raw station config with the keys its ``[watch] preset`` sets filled in where the file left them out.

    Anything that is not a table of the expected shape is returned untouched for validation to report.
    """
    if not isinstance(raw, dict) or not isinstance(raw.get("watch"), dict):
        return raw
    name = raw["watch"].get("preset", "plain")
    if name not in WATCH:  # validation of ``preset`` names the choices
        return raw
    config = dict(raw)
    config["watch"] = {**WATCH[name], **raw["watch"]}
    frames = raw.get("frames", {})
    if isinstance(frames, dict):
        config["frames"] = {**FRAMES[name], **frames}
    return config
