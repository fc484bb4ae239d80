"""The benchmarks run, with tiny repetitions, and produce well-formed figures (no timing asserted).

Figures from a quick run mean nothing; these tests only keep `make bench` from rotting: every
benchmark still drives the real handlers, its stub still answers what they call, and the report
still renders. The asset and end-to-end benchmarks carry the `infra` and `e2e` markers of the
tests they resemble (CDK bundling; the local stack on loopback).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from benchmarks import __main__ as bench_main
from benchmarks import assets, callback, coldstart, cost, e2e, harness
from benchmarks.report import BenchmarkResult, Row, table, targets_table
from benchmarks.stats import paired_ratio, percentile, summarize
from benchmarks.stub import (
    LatencyModel,
    UnstubbedCall,
    ZeroLatencyAws,
    answer_get_item,
    answer_pipeline_writes,
    apply_update,
)
from functions.callback import wiring
from functions.core import result_storage


def _well_formed(result: BenchmarkResult) -> None:
    assert result.skipped is None, result.skipped
    assert result.rows, "no rows"
    for row in result.rows:
        assert row.value > 0, row
        assert math.isfinite(row.value), row
        if row.baseline is not None:
            assert row.baseline > 0, row
            assert row.ratio is not None, row
            assert math.isfinite(row.ratio), row
    json.dumps(result.as_dict())  # results.json must be writable
    assert result.name in table([result])


# --- building blocks ---------------------------------------------------------------------------


def test_percentiles_interpolate_between_closest_ranks() -> None:
    samples = [float(value) for value in range(1, 101)]
    assert percentile(samples, 0.5) == pytest.approx(50.5)
    assert percentile(samples, 0.95) == pytest.approx(95.05)
    assert percentile([3.0], 0.95) == 3.0
    summary = summarize([5.0, 1.0, 3.0])
    assert (summary.median, summary.minimum, summary.maximum, summary.n) == (3.0, 1.0, 5.0, 3)


def test_the_paired_ratio_is_the_median_of_the_ratios_of_each_round() -> None:
    assert paired_ratio([2.0, 30.0, 4.0], [1.0, 10.0, 1.0]) == pytest.approx(3.0)
    with pytest.raises(ValueError, match="samples"):
        paired_ratio([1.0], [1.0, 2.0])


def test_a_row_meets_a_ratio_target_or_an_absolute_one() -> None:
    ratio = Row("b", "c", "ms", value=12.0, baseline=10.0, baseline_label="floor", target_ratio=1.25)
    assert ratio.ratio == pytest.approx(1.2)
    assert ratio.met is True
    absolute = Row("b", "c", "KB", value=120.0, baseline=10.0, baseline_label="core", target_max=100.0)
    assert absolute.met is False
    assert "MISSED" in table([BenchmarkResult("b", "t", rows=[absolute])])


def test_the_verdict_uses_the_paired_ratio_and_the_targets_table_says_by_how_much() -> None:
    row = Row(
        "b", "c", "ms", value=12.0, baseline=10.0, baseline_label="floor", target_ratio=1.25, paired_ratio=1.3
    )
    assert row.ratio_of_medians == pytest.approx(1.2)
    assert row.ratio == pytest.approx(1.3)
    assert row.met is False
    targets = targets_table([BenchmarkResult("b", "t", rows=[row])])
    assert "1.30x" in targets
    assert "MISSED" in targets
    assert "+4% of the target" in targets


def test_the_latency_model_holds_answers_back_and_reads_its_overrides() -> None:
    model = LatencyModel.from_environ({"BENCH_LATENCY_SNS_MS": "7", "BENCH_S3_MB_PER_S": "10"})
    assert model.call_ms["sns"] == 7.0
    assert model.call_ms["dynamodb"] == LatencyModel().call_ms["dynamodb"]
    assert model.seconds("s3", "PutObject", 1_000_000) == pytest.approx(model.call_ms["s3"] / 1000 + 0.1)
    assert model.seconds("dynamodb", "GetItem", 1_000_000) == pytest.approx(model.call_ms["dynamodb"] / 1000)
    stub = ZeroLatencyAws()
    answer_pipeline_writes(stub)
    stub.latency = LatencyModel({"sns": 30.0})
    session = boto3.session.Session(
        region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b", aws_session_token="c"
    )
    stub.install(session)
    try:
        sns = session.client("sns")
        started = time.perf_counter()
        sns.publish(TopicArn="arn:aws:sns:us-east-1:123456789012:t", Message="m")
        assert time.perf_counter() - started >= 0.03
    finally:
        stub.uninstall()


def test_latency_flags_become_the_models_environment() -> None:
    arguments = bench_main.parse_arguments(["--latency", "dynamodb=6", "--s3-mb-per-s", "50"])
    environment = bench_main.latency_environment(arguments)
    assert environment == {"BENCH_LATENCY_DYNAMODB_MS": "6.0", "BENCH_S3_MB_PER_S": "50.0"}
    assert LatencyModel.from_environ(environment).call_ms["dynamodb"] == 6.0
    with pytest.raises(SystemExit):
        bench_main.latency_environment(bench_main.parse_arguments(["--latency", "nope=1"]))


def test_the_composition_roots_are_rebuilt_over_the_stub_without_patching() -> None:
    with callback.CallbackBench() as bench:
        case = bench.case("1 KB", 1024)
        bench.activate(case)
        with harness.stdout_redirected():
            bench.invoke_real(case)
        built = wiring.service()
        harness.reset_function_caches()
        assert wiring.service() is not built
        # The explicitly built service makes the same calls as the wired one.
        wired = bench.calls_per_delivery(case)
        service = callback.build_service()
        explicit = bench.calls_per_delivery(case, lambda: bench.invoke_service(service, case))
        assert wired == explicit == {"dynamodb.UpdateItem": 2, "sns.Publish": 1}


def test_the_stub_answers_at_botocores_http_layer_and_refuses_what_it_does_not_know() -> None:
    stub = ZeroLatencyAws()
    answer_pipeline_writes(stub)
    answer_get_item(stub, {"job_id": {"S": "j"}, "status": {"S": "processing"}})
    session = boto3.session.Session(
        region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b", aws_session_token="c"
    )
    stub.install(session)
    try:
        dynamodb = session.client("dynamodb")
        assert dynamodb.get_item(TableName="t", Key={"job_id": {"S": "j"}})["Item"]["status"] == {
            "S": "processing"
        }
        dynamodb.update_item(TableName="t", Key={"job_id": {"S": "j"}}, UpdateExpression="SET a = :a",
                             ExpressionAttributeValues={":a": {"S": "x"}})  # fmt: skip
        message_id = session.client("sns").publish(
            TopicArn="arn:aws:sns:us-east-1:123456789012:t", Message="m"
        )
        assert message_id["MessageId"]
        with pytest.raises((UnstubbedCall, ClientError)):
            dynamodb.delete_table(TableName="t")
    finally:
        stub.uninstall()
    assert stub.calls() == {"dynamodb.GetItem": 1, "dynamodb.UpdateItem": 1, "sns.Publish": 1}


def test_dynamodb_item_sizes_follow_the_documented_rules() -> None:
    item = {"id": {"S": "abc"}, "n": {"N": "12345"}, "b": {"B": "AAEC"}, "m": {"M": {"k": {"BOOL": True}}}}
    # id 2+3, n 1+(5 digits -> 3+1), b 1+3 bytes, m 1+(3 + k 1 + 1 + 1)
    assert cost.item_size(item) == 5 + 5 + 4 + 7
    updated = apply_update(
        {"id": {"S": "abc"}},
        {
            "UpdateExpression": "SET #s = :s, r = if_not_exists(r, :r) REMOVE gone",
            "ExpressionAttributeNames": {"#s": "status"},
            "ExpressionAttributeValues": {":s": {"S": "done"}, ":r": {"S": "x"}},
        },
    )
    assert updated == {"id": {"S": "abc"}, "status": {"S": "done"}, "r": {"S": "x"}}
    assert cost.write_units(100, 1025) == 2
    assert cost.read_units(4097) == 2


def test_experiments_patch_result_storage_and_put_it_back() -> None:
    level, inline_max = result_storage.GZIP_LEVEL, result_storage.INLINE_MAX_STORED_BYTES
    with callback.previous_storage():
        assert result_storage.GZIP_LEVEL == callback.PREVIOUS_GZIP_LEVEL
        assert result_storage.INLINE_MAX_STORED_BYTES == callback.PREVIOUS_INLINE_MAX_STORED_BYTES
    with callback.uncompressed_to_s3():
        assert result_storage.COMPRESS_MAX_RAW_BYTES == 0
    assert level == result_storage.GZIP_LEVEL
    assert inline_max == result_storage.INLINE_MAX_STORED_BYTES
    assert result_storage.COMPRESS_MAX_RAW_BYTES > 0


# --- the benchmarks, quick -----------------------------------------------------------------------


def test_callback_benchmark_runs_the_real_handler_against_its_floor() -> None:
    result = callback.run(quick=True, latency=LatencyModel({"dynamodb": 1.0, "sns": 2.0, "s3": 2.0}))
    _well_formed(result)
    assert {row.case.split(" (")[0] for row in result.rows} == {
        f"{mode}: {size} {payload}"
        for mode in callback.MODES
        for size, payload in (("1 KB", "words"), ("100 KB", "words"), ("100 KB", "diarized"))
    }
    assert all(row.paired_ratio is not None for row in result.rows)
    targeted = {row.case.split(" (")[0]: row.target_ratio for row in result.rows if row.target_ratio}
    assert targeted == {
        "CPU only: 100 KB words": 1.5,
        "CPU only: 100 KB diarized": 1.5,
        "round trip: 100 KB words": 1.3,
        "round trip: 100 KB diarized": 1.3,
    }
    # No read before the finishing write; the e2e benchmark adds up the same calls.
    expected_calls = {"dynamodb.UpdateItem": 2, "sns.Publish": 1}
    assert result.details["aws_calls_per_delivery"]["100 KB diarized"] == expected_calls
    assert {
        f"{'sns' if name == 'Publish' else 'dynamodb'}.{name}": count
        for name, count in e2e.CALLBACK_CALLS.items()
    } == expected_calls
    steps = result.details["breakdown_ms_per_delivery"][callback.ROUND_TRIP]["100 KB words"]
    assert steps["port publisher.publish"] >= 2.0  # the modelled wait is inside the port call
    assert "sha256" in result.details["profile"]["100 KB words"]["cumulative_ms_per_delivery"]
    experiments = result.details["experiments"]["results"][callback.CPU_ONLY]["100 KB words"]
    assert set(experiments) == {callback.AS_IS, callback.FLOOR_LABEL, *callback.EXPERIMENTS}
    assert experiments[callback.AS_IS]["body_stored"] == "inline"
    assert experiments[callback.RAW_TO_S3]["body_stored"] == "S3"


def test_coldstart_benchmark_serves_a_first_event_in_a_fresh_process() -> None:
    result = coldstart.run(quick=True)
    _well_formed(result)
    [row] = result.rows
    assert row.case.startswith("callback")
    assert row.target_ratio == coldstart.TARGET_CALLBACK


def test_cost_benchmark_prices_a_job() -> None:
    result = cost.run(quick=True)
    _well_formed(result)
    [figures] = result.details["per_recording"].values()
    assert figures["units"]["wru"] > 0
    assert figures["storage"].startswith("inline")
    assert 0 < figures["stored_bytes"] < figures["job_item_bytes"]
    assert figures["previous_storage"]["usd_per_1000_jobs_total"] > 0


@pytest.mark.infra
def test_asset_benchmark_measures_the_bundles() -> None:
    result = assets.run(quick=True)
    _well_formed(result)
    assert result.details["bytes"]["callback"]["zipped"] < result.details["bytes"]["callback"]["unzipped"]


@pytest.mark.e2e
def test_e2e_benchmark_times_jobs_through_the_local_stack() -> None:
    result = e2e.run(quick=True)
    _well_formed(result)
    assert len(result.rows) == 4
    assert set(e2e.CALLBACK_CALLS) <= set(result.details["aws_call_ms"]["median_per_call"])


def test_main_writes_results_json(tmp_path: Path) -> None:
    output = tmp_path / "results.json"
    assert bench_main.main(["--quick", "--only", "callback", "--output", str(output)]) == 0
    document = json.loads(output.read_text())
    assert document["quick"] is True
    assert set(document["benchmarks"]) == {"callback"}
    assert document["benchmarks"]["callback"]["rows"][0]["ratio"] > 0
    assert document["benchmarks"]["callback"]["rows"][0]["ratio_kind"] == "paired"
