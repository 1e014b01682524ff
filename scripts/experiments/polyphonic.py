#!/usr/bin/env python3
"""The polyphonic benchmark: train on the four piano-roll sets, choose on valid, score test once.

Every run is ``musicgen train FILE --out RUNS/NAME --max-minutes M ...`` followed by
``musicgen evaluate --checkpoint RUNS/NAME FILE --split validation --json``; its command,
parameters, minutes and validation figures go to ``RUNS/results.jsonl`` (one record per
run). ``test`` scores a run's test split, once: a second time is refused, so a test figure
never chooses anything. ``table`` prints the records as the Markdown of docs/results.md::

    python scripts/experiments/polyphonic.py run jsb-lstm jsb -- --cell lstm --max-minutes 10
    python scripts/experiments/polyphonic.py units 256                # units of GRU and tanh RNN matched to it
    python scripts/experiments/polyphonic.py test jsb-lstm
    python scripts/experiments/polyphonic.py table

Runs go one after another (the CPU is shared); ``RUNS`` is ``$POLY_RUNS`` or /work/runs/poly,
outside the repository: models trained on these sets are not shipped.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

DATA = Path(os.environ.get("POLY_DATA", "/work/shared/data/polyphonic"))
RUNS = Path(os.environ.get("POLY_RUNS", "/work/runs/poly"))
SETS = {"jsb": "jsb_chorales.json.gz", "nottingham": "nottingham.json.gz", "musedata": "musedata.json.gz",
        "piano": "piano_midi.json.gz"}
GATES = {"lstm": 4, "gru": 3, "rnn": 1, "irnn": 1}
VOCAB = 92  # PAD, BOS, EOS, 88 keys, FRAME_END


def parameter_count(cell: str, units: int, layers: int, embedding: int, vocab: int = VOCAB) -> int:
    """Parameters of ``build_language_model`` (GRU: reset_after, two bias rows)."""
    total, inputs = vocab * embedding + units * vocab + vocab, embedding
    for _ in range(layers):
        total += GATES[cell] * (inputs * units + units * units + (2 * units if cell == "gru" else units))
        inputs = units
    return total


def matched_units(target: int, cell: str, layers: int, embedding: int) -> int:
    """The units whose model's parameter count lies nearest to ``target``."""
    return min(range(8, 4097), key=lambda u: abs(parameter_count(cell, u, layers, embedding) - target))


def musicgen(*args: str, log: Path) -> subprocess.CompletedProcess:
    """Run ``python -m musicgen ARGS``, its output appended to ``log``."""
    with log.open("a") as handle:
        handle.write(f"\n$ musicgen {shlex.join(args)}\n")
        handle.flush()
        return subprocess.run([sys.executable, "-m", "musicgen", *args], stdout=handle, stderr=subprocess.STDOUT,
                              check=False)


def records() -> list[dict]:
    path = RUNS / "results.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def save(record: dict) -> None:
    """Replace the record of the same name (or add it)."""
    kept = [r for r in records() if r["name"] != record["name"]] + [record]
    (RUNS / "results.jsonl").write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in kept))


def evaluate(name: str, data: str, split: str, log: Path) -> dict:
    """``musicgen evaluate --json`` on ``split`` (the result's last line)."""
    extra = ["--no-ngram"] if split == "validation" else []
    done = musicgen("evaluate", "--checkpoint", str(RUNS / name), str(DATA / data), "--split", split, "--json",
                    "--quiet", *extra, log=log)
    if done.returncode:
        raise SystemExit(f"evaluate {name} on {split} failed; see {log}")
    last = [line for line in log.read_text().splitlines() if line.startswith("{")][-1]
    return json.loads(last)


def run(name: str, key: str, train_args: list[str]) -> None:
    """Train ``name`` on data set ``key`` and score its validation split."""
    data, out, log = SETS[key], RUNS / name, RUNS / f"{name}.log"
    command = ["train", str(DATA / data), "--out", str(out), "--overwrite", "--quiet", *train_args]
    started = time.time()
    if musicgen(*command, log=log).returncode:
        raise SystemExit(f"training {name} failed; see {log}")
    wall = time.time() - started
    state = json.loads((out / "state.json").read_text())
    config = json.loads((out / "train_config.json").read_text())
    valid = evaluate(name, data, "validation", log)
    save({"name": name, "data": key, "command": "musicgen " + shlex.join(command),
          "parameters": state["parameters"], "updates": state["updates"], "best_updates": state.get("best_updates"),
          "train_minutes": round(state["wall_seconds"] / 60, 1), "wall_minutes": round(wall / 60, 1),
          "config": {k: config[k] for k in ("cell", "units", "num_layers", "embedding_dim", "dropout", "seq_len",
                                            "batch_size", "learning_rate", "transpose_range", "stretch_range",
                                            "augment", "precision")},
          "valid": {k: valid[k] for k in ("nll_per_frame", "nll_per_frame_unmasked", "frames", "nll")},
          "finished": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())})
    print(f"{name}: valid {valid['nll_per_frame']:.3f} nats/frame ({valid['frames']} frames), "
          f"{state['parameters']:,} parameters, {wall / 60:.1f} min")


def test(name: str, force: bool = False) -> None:
    """Score ``name``'s test split, once."""
    record = next((r for r in records() if r["name"] == name), None)
    if record is None:
        raise SystemExit(f"no run named {name}")
    if "test" in record and not force:
        raise SystemExit(f"{name} was scored on test already ({record['test']['nll_per_frame']:.3f}); test is "
                         "scored once per reported model")
    result = evaluate(name, SETS[record["data"]], "test", RUNS / f"{name}.log")
    record["test"] = {k: result[k] for k in ("nll_per_frame", "nll_per_frame_unmasked", "frames", "nll", "ngram_nll")}
    save(record)
    print(f"{name}: test {result['nll_per_frame']:.3f} nats/frame ({result['frames']} frames)")


def table() -> None:
    """Every run as a Markdown row, by data set."""
    print("| run | data | cell | units x layers | parameters | valid NLL/frame | test NLL/frame | minutes | command |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in sorted(records(), key=lambda r: (list(SETS).index(r["data"]), r["finished"])):
        c = r["config"]
        tested = f"**{r['test']['nll_per_frame']:.2f}**" if "test" in r else ""
        print(f"| {r['name']} | {r['data']} | {c['cell']} | {c['units']} x {c['num_layers']} | {r['parameters']:,} | "
              f"{r['valid']['nll_per_frame']:.3f} | {tested} | {r['train_minutes']} | `{r['command']}` |")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="what", required=True)
    run_parser = commands.add_parser("run", help="train a run and score its validation split")
    run_parser.add_argument("name")
    run_parser.add_argument("data", choices=SETS)
    run_parser.add_argument("train_args", nargs=argparse.REMAINDER, help="after --: musicgen train's options")
    test_parser = commands.add_parser("test", help="score runs' test split (once)")
    test_parser.add_argument("names", nargs="+")
    test_parser.add_argument("--force", action="store_true")
    units_parser = commands.add_parser("units", help="units of each cell matched to an LSTM's parameters")
    units_parser.add_argument("lstm_units", type=int)
    units_parser.add_argument("--layers", type=int, default=2)
    units_parser.add_argument("--embedding", type=int, default=128)
    commands.add_parser("table", help="the records as Markdown")
    args = parser.parse_args()
    RUNS.mkdir(parents=True, exist_ok=True)
    if args.what == "run":
        run(args.name, args.data, [a for a in args.train_args if a != "--"])
    elif args.what == "test":
        for name in args.names:
            test(name, args.force)
    elif args.what == "units":
        target = parameter_count("lstm", args.lstm_units, args.layers, args.embedding)
        for cell in GATES:
            units = matched_units(target, cell, args.layers, args.embedding)
            print(f"{cell}: {units} units, {parameter_count(cell, units, args.layers, args.embedding):,} parameters")
    else:
        table()
    return 0


if __name__ == "__main__":
    sys.exit(main())
