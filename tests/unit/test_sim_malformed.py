"""Malformed payload examples get exactly the dead-letter reasons they promise from the real decoder."""

from __future__ import annotations

import pytest

from ingest.decode import PayloadDecoder
from riskstream.schemas import DeadLetterReason
from simulators.malformed import MalformedExample, malformed_examples
from simulators.registry_gen import make_registry

REG = make_registry(200, seed=7)
MAX_BYTES = 8192
EXAMPLES = malformed_examples(REG, 1_782_864_000_000, max_bytes=MAX_BYTES)


def test_every_reason_code_is_exercised() -> None:
    assert {ex.reason for ex in EXAMPLES} == set(DeadLetterReason)
    names = [ex.name for ex in EXAMPLES]
    assert len(set(names)) == len(names)
    assert {"not_json", "wrong_version", "missing_gateway_id", "unknown_sensor", "value_wrong_type",
            "value_nan", "one_bad_among_good", "wrong_topic_suffix"} <= set(names)  # fmt: skip


@pytest.mark.parametrize("ex", EXAMPLES, ids=lambda ex: ex.name)
def test_decoder_gives_the_expected_reason(ex: MalformedExample) -> None:
    out = PayloadDecoder(REG, max_bytes=MAX_BYTES).decode(ex.payload, ex.topic, 1)
    assert [d.reason for d in out.dead] == [ex.reason] * ex.dead_letters, [d.detail for d in out.dead]
    assert len(out.readings) == ex.accepted_readings


def test_one_bad_reading_does_not_cost_its_neighbours() -> None:
    ex = next(e for e in EXAMPLES if e.name == "one_bad_among_good")
    assert ex.accepted_readings >= 2 and ex.dead_letters == 1


def test_too_large_only_when_a_limit_is_given() -> None:
    assert "too_large" not in {e.name for e in malformed_examples(REG, 0)}
    big = next(e for e in EXAMPLES if e.name == "too_large")
    assert len(big.payload) == MAX_BYTES + 1


def test_scenario_offers_its_malformed_examples_after_its_end() -> None:
    from simulators.scenario import Scenario

    sc = Scenario(REG, duration_s=60)
    examples = sc.malformed()
    assert {e.reason for e in examples} == set(DeadLetterReason) - {DeadLetterReason.TOO_LARGE}
    good = next(e for e in examples if e.name == "one_bad_among_good")
    out = PayloadDecoder(REG).decode(good.payload, good.topic, 1)
    assert min(r.ts_ms for r in out.readings) > sc.end_ts_ms
