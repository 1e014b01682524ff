"""General MIDI instruments: program numbers, names, and the names users type.

musicgen numbers an instrument by its General MIDI program, 0..127, and uses
:data:`DRUM_PROGRAM` (128) for the drum kit on MIDI channel 10, which has no program of
its own. :func:`program_name` names a track after its program when its source gave it no
name; :func:`parse_instruments` reads ``"piano,bass,drums"`` or ``"0,33,128"`` from the
command line.
"""

from __future__ import annotations

from musicgen.errors import ConfigError

DRUM_PROGRAM = 128
DEFAULT_PROGRAM = 0  # acoustic grand piano: what a piece without program changes plays
PROGRAM_COUNT = 129  # 0..127 and the drums

GM_PROGRAM_NAMES = (
    "Acoustic Grand Piano", "Bright Acoustic Piano", "Electric Grand Piano", "Honky-tonk Piano",
    "Electric Piano 1", "Electric Piano 2", "Harpsichord", "Clavinet",
    "Celesta", "Glockenspiel", "Music Box", "Vibraphone", "Marimba", "Xylophone", "Tubular Bells", "Dulcimer",
    "Drawbar Organ", "Percussive Organ", "Rock Organ", "Church Organ", "Reed Organ", "Accordion", "Harmonica",
    "Tango Accordion",
    "Acoustic Guitar (nylon)", "Acoustic Guitar (steel)", "Electric Guitar (jazz)", "Electric Guitar (clean)",
    "Electric Guitar (muted)", "Overdriven Guitar", "Distortion Guitar", "Guitar Harmonics",
    "Acoustic Bass", "Electric Bass (finger)", "Electric Bass (pick)", "Fretless Bass", "Slap Bass 1",
    "Slap Bass 2", "Synth Bass 1", "Synth Bass 2",
    "Violin", "Viola", "Cello", "Contrabass", "Tremolo Strings", "Pizzicato Strings", "Orchestral Harp",
    "Timpani",
    "String Ensemble 1", "String Ensemble 2", "Synth Strings 1", "Synth Strings 2", "Choir Aahs", "Voice Oohs",
    "Synth Voice", "Orchestra Hit",
    "Trumpet", "Trombone", "Tuba", "Muted Trumpet", "French Horn", "Brass Section", "Synth Brass 1",
    "Synth Brass 2",
    "Soprano Sax", "Alto Sax", "Tenor Sax", "Baritone Sax", "Oboe", "English Horn", "Bassoon", "Clarinet",
    "Piccolo", "Flute", "Recorder", "Pan Flute", "Blown Bottle", "Shakuhachi", "Whistle", "Ocarina",
    "Lead 1 (square)", "Lead 2 (sawtooth)", "Lead 3 (calliope)", "Lead 4 (chiff)", "Lead 5 (charang)",
    "Lead 6 (voice)", "Lead 7 (fifths)", "Lead 8 (bass + lead)",
    "Pad 1 (new age)", "Pad 2 (warm)", "Pad 3 (polysynth)", "Pad 4 (choir)", "Pad 5 (bowed)",
    "Pad 6 (metallic)", "Pad 7 (halo)", "Pad 8 (sweep)",
    "FX 1 (rain)", "FX 2 (soundtrack)", "FX 3 (crystal)", "FX 4 (atmosphere)", "FX 5 (brightness)",
    "FX 6 (goblins)", "FX 7 (echoes)", "FX 8 (sci-fi)",
    "Sitar", "Banjo", "Shamisen", "Koto", "Kalimba", "Bagpipe", "Fiddle", "Shanai",
    "Tinkle Bell", "Agogo", "Steel Drums", "Woodblock", "Taiko Drum", "Melodic Tom", "Synth Drum",
    "Reverse Cymbal",
    "Guitar Fret Noise", "Breath Noise", "Seashore", "Bird Tweet", "Telephone Ring", "Helicopter", "Applause",
    "Gunshot",
)

# Words users type for common instruments (lower case), beside the full GM names.
ALIASES = {
    "piano": 0, "grand piano": 0, "electric piano": 4, "epiano": 4, "harpsichord": 6, "organ": 19,
    "church organ": 19, "accordion": 21, "guitar": 25, "acoustic guitar": 25, "nylon guitar": 24,
    "electric guitar": 27, "distortion guitar": 30, "bass": 33, "electric bass": 33, "acoustic bass": 32,
    "double bass": 43, "upright bass": 32, "synth bass": 38, "violin": 40, "viola": 41, "cello": 42,
    "contrabass": 43, "harp": 46, "timpani": 47, "strings": 48, "string ensemble": 48, "choir": 52,
    "voice": 53, "trumpet": 56, "trombone": 57, "tuba": 58, "horn": 60, "french horn": 60, "brass": 61,
    "sax": 65, "saxophone": 65, "alto sax": 65, "tenor sax": 66, "oboe": 68, "bassoon": 70,
    "clarinet": 71, "piccolo": 72, "flute": 73, "recorder": 74, "whistle": 78, "lead": 80, "pad": 89,
    "fiddle": 110, "bagpipe": 109, "banjo": 105, "drums": DRUM_PROGRAM, "drum kit": DRUM_PROGRAM,
    "percussion": DRUM_PROGRAM, "kit": DRUM_PROGRAM,
}


# What each instrument can play, from orchestration practice, for instruments a model's training
# data did not show (the data's own ranges come first): the written ranges of common General MIDI
# programs as MIDI pitches, the most notes one part plays at once, and the drum kit's notes.
PLAYABLE = (  # (programs, lowest, highest, most notes at once)
    (range(0, 8), 21, 108, 10), (range(8, 16), 48, 96, 4), (range(16, 24), 36, 96, 10),
    (range(24, 32), 40, 88, 6), (range(32, 40), 28, 67, 2), (range(40, 41), 55, 103, 2),
    (range(41, 42), 48, 91, 2), (range(42, 43), 36, 76, 2), (range(43, 44), 28, 67, 2),
    (range(44, 46), 28, 103, 4), (range(46, 47), 23, 103, 6), (range(47, 48), 40, 57, 2),
    (range(48, 52), 28, 103, 8), (range(52, 55), 36, 84, 4), (range(55, 56), 36, 96, 4),
    (range(56, 57), 52, 84, 1), (range(57, 58), 40, 72, 1), (range(58, 59), 28, 58, 1),
    (range(59, 60), 52, 84, 1), (range(60, 61), 34, 77, 1), (range(61, 64), 34, 84, 4),
    (range(64, 65), 56, 87, 1), (range(65, 66), 49, 81, 1), (range(66, 67), 44, 76, 1),
    (range(67, 68), 36, 69, 1), (range(68, 69), 58, 91, 1), (range(69, 70), 52, 81, 1),
    (range(70, 71), 34, 75, 1), (range(71, 72), 50, 94, 1), (range(72, 73), 74, 108, 1),
    (range(73, 74), 60, 96, 1), (range(74, 80), 60, 96, 1), (range(80, 88), 36, 96, 2),
    (range(88, 104), 36, 96, 6), (range(104, 112), 40, 88, 2), (range(112, 120), 48, 96, 2),
    (range(120, 128), 36, 96, 2), (range(DRUM_PROGRAM, DRUM_PROGRAM + 1), 27, 87, 6),
)


def playable(program: int) -> tuple[int, int, int]:
    """``(lowest, highest, most notes at once)`` that ``program`` can play (128: the drum kit's notes)."""
    for programs, lowest, highest, most in PLAYABLE:
        if program in programs:
            return lowest, highest, most
    raise ConfigError(f"program {program} is not a General MIDI program (0..127, or 128 for drums)")


def program_name(program: int) -> str:
    """The General MIDI name of ``program`` (``"Drums"`` for :data:`DRUM_PROGRAM`)."""
    if program == DRUM_PROGRAM:
        return "Drums"
    if not 0 <= int(program) <= 127:
        raise ConfigError(f"program {program} is not a General MIDI program (0..127, or 128 for drums)")
    return GM_PROGRAM_NAMES[int(program)]


def parse_instrument(text: str) -> int:
    """A program number from a name (``"piano"``, ``"Violin"``, ``"drums"``) or a number."""
    word = " ".join(text.strip().lower().replace("_", " ").replace("-", " ").split())
    if word.isdigit() and 0 <= int(word) <= DRUM_PROGRAM:
        return int(word)
    if word in ALIASES:
        return ALIASES[word]
    names = {name.lower(): program for program, name in enumerate(GM_PROGRAM_NAMES)}
    if word in names:
        return names[word]
    valid = ", ".join(sorted(ALIASES))
    raise ConfigError(
        f"unknown instrument {text!r}: use a General MIDI program number 0..127, 128 for drums, "
        f"a General MIDI name such as 'Acoustic Grand Piano', or one of: {valid}"
    )


def parse_instruments(text: str) -> tuple[int, ...]:
    """Programs of a comma-separated list such as ``"piano,bass,drums"`` (order kept)."""
    parts = [part for part in text.split(",") if part.strip()]
    if not parts:
        raise ConfigError("--instruments needs at least one instrument, e.g. piano,bass,drums")
    return tuple(parse_instrument(part) for part in parts)
