"""The exception hierarchy: families users can catch, exit codes the CLI uses."""

from __future__ import annotations

from evalkit.errors import (
    ConfigError,
    EvalkitError,
    GoldenSetError,
    InfrastructureError,
    InvalidInputError,
    Problem,
    ServerStartError,
    SUTError,
    UserInputError,
)


def test_families_and_exit_codes() -> None:
    assert issubclass(GoldenSetError, InvalidInputError)
    assert issubclass(ConfigError, UserInputError)
    assert issubclass(ServerStartError, InfrastructureError)
    assert all(
        issubclass(cls, EvalkitError) for cls in (UserInputError, InfrastructureError, SUTError)
    )
    assert UserInputError.exit_code == 2
    assert InfrastructureError.exit_code == 3


def test_problem_formats_file_and_line() -> None:
    assert str(Problem("a.jsonl", 3, "bad")) == "a.jsonl:3: bad"
    assert str(Problem("a.jsonl", None, "bad")) == "a.jsonl: bad"


def test_many_problems_are_capped_in_the_message_but_all_kept() -> None:
    error = GoldenSetError([Problem("f", i, "x") for i in range(1, 121)])
    assert len(error.problems) == 120
    assert "and 70 more problem(s)" in str(error)


def test_sut_error_carries_retryability() -> None:
    error = SUTError("429 Too Many Requests", retryable=True, status=429)
    assert error.retryable and error.status == 429
