"""Final-answer extraction and math equivalence on the cases that trip verifiers up."""

import threading

import pytest

from ragassets.reasoning.extract import extract_code, extract_math_answer, last_boxed, reference_from_solution
from ragassets.reasoning.verify_math import MathVerifier, numeric_equal, to_number


@pytest.mark.parametrize(
    ("text", "answer", "method"),
    [
        ("So x = 3. Therefore, the answer is $\\frac{1}{2}$.", "\\frac{1}{2}", "answer_is"),
        ("We get \\boxed{\\frac{\\sqrt{3}}{2}} in the end, the answer is 7", "\\frac{\\sqrt{3}}{2}", "boxed"),
        ("nested \\boxed{\\frac{1}{\\sqrt{2}}}", "\\frac{1}{\\sqrt{2}}", "boxed"),
        ("\\boxed 5 is it", "5", "boxed"),
        ("The answer is 3.5.", "3.5", "answer_is"),
        ("Final answer: 12 cm", "12 cm", "answer_is"),
        ("**The answer is 42**", "42", "answer_is"),
        ("Therefore, the answer is 45^\\circ. Great", "45^\\circ", "answer_is"),
        ("The answer is x = 2 or x = -3.", "x = 2 or x = -3", "answer_is"),
        ("Adding 3 and 4 gives 7, and then 1,000 in total", "1,000", "last_number"),
        ("the slope is -3/4", "-3/4", "last_number"),
    ],
)
def test_extraction(text, answer, method):
    found = extract_math_answer(text)
    assert found is not None
    assert (found.text, found.method) == (answer, method)


@pytest.mark.parametrize(
    "text",
    ["", "   ", "I don't know.", "The answer is not determined.", "no numbers here at all",
     "Therefore, the answer is unknown.", "\\boxed{}"],
)
def test_non_answers(text):
    assert extract_math_answer(text) is None


def test_boxed_prefers_the_last_and_balances_braces():
    assert last_boxed("\\boxed{1} then \\boxed{\\{1, 2\\}}") == "\\{1, 2\\}"
    assert reference_from_solution("so $x = \\boxed{\\dfrac{2}{3}}$.") == "\\dfrac{2}{3}"
    assert reference_from_solution("no box") is None


@pytest.fixture(scope="module")
def verifier():
    return MathVerifier(timeout_s=5)


@pytest.mark.parametrize(
    ("reference", "answer"),
    [
        ("\\frac{1}{2}", "0.5"),  # fraction vs decimal
        ("\\frac{1}{2}", "1/2"),
        ("\\dfrac12", "\\frac{1}{2}"),  # LaTeX forms
        ("\\frac{\\sqrt{2}}{2}", "\\sqrt{2}/2"),
        ("2\\pi", "2 \\pi"),
        ("(3, \\frac{\\pi}{2})", "\\left( 3, \\frac{\\pi}{2} \\right)"),
        ("-\\frac{3}{4}", "-0.75"),
        ("12", "12 \\text{ cm}"),  # units
        ("12", "12 cm"),
        ("45", "45^\\circ"),
        ("10", "\\$10"),
        ("1000", "1,000"),
        ("1000", "1,000 apples"),
        ("\\{1, 2\\}", "2, 1"),  # sets of answers, any order
        ("-2, 3", "x = 3 \\text{ or } x = -2"),
        ("x^2+2x+1", "(x+1)^2"),
    ],
)
def test_equivalent(verifier, reference, answer):
    check = verifier.check(reference, answer)
    assert check.correct, check


@pytest.mark.parametrize(
    ("reference", "answer"),
    [("5", "6"), ("\\{1, 2\\}", "\\{1, 2, 3\\}"), ("\\frac{1}{2}", "\\frac{1}{3}"), ("25\\pi", "25"),
     ("3\\sqrt{2}", "3"), ("130", "131")],
)
def test_not_equivalent(verifier, reference, answer):
    assert not verifier.check(reference, answer).correct


def test_numeric_fallback_reads_plain_numbers():
    assert [to_number(x) for x in ["-3/4", "\\frac{3}{4}", "\\dfrac34", "1,000", "12 cm", "45^\\circ", "\\$10"]] == [
        -0.75, 0.75, 0.75, 1000.0, 12.0, 45.0, 10.0]
    assert to_number("x+1") is None and to_number("1/0") is None
    assert numeric_equal("0.3333333", "1/3", tolerance=1e-6)
    assert not numeric_equal("0.33", "1/3", tolerance=1e-6)


def test_outside_the_main_thread_verification_runs_in_worker_processes():
    # math-verify's signal.alarm timeouts refuse to run in a thread: the verifier moves the work
    box = {}

    def work():
        v = MathVerifier(timeout_s=5, workers=1)
        box["checks"] = v.check_many([("\\frac{1}{2}", "0.5"), ("5", "6")])
        box["mode"] = v.mode

    t = threading.Thread(target=work)
    t.start()
    t.join(timeout=300)
    assert box["mode"] == "worker_processes"
    assert [c.correct for c in box["checks"]] == [True, False]


def test_extract_code_takes_the_last_python_block():
    text = "Idea.\n```python\nprint(1)\n```\nBetter:\n```python\nprint(2)\n```\n"
    assert extract_code(text) == "print(2)\n"
    assert extract_code("```\nx = 1\n```") == "x = 1\n"
    assert extract_code("```bash\nls\n```") is None
    assert extract_code("no code") is None
    assert extract_code("```python\nprint(3)\n") == "print(3)\n"  # cut at max_tokens before the fence closed
