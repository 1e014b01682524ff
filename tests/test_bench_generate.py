"""``musicgen bench generate`` runs end to end and reports every variant (no speed is asserted)."""

from __future__ import annotations

import json

from musicgen.cli import main


def test_bench_generate_reports_each_variant(capsys) -> None:
    from musicgen.bench.generate import VOCAB_SIZE, build_benchmark_model

    model, tokenizer = build_benchmark_model()
    assert tokenizer.vocab_size == VOCAB_SIZE == model.output_shape[-1]
    assert main(["bench", "generate", "--json", "--tokens", "8", "--repeats", "1", "--naive-tokens", "2",
                 "--skip-plain"]) == 0
    result = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    speeds = result["tokens_per_s"]
    assert {"batch1", "batch64", "reference_batch1", "reference_batch64", "naive_refeed"} <= set(speeds)
    assert all(value > 0 for value in speeds.values())
