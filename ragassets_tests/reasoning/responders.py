"""A stand-in "model" for the LLM test server that solves the bundled sample problems: right on even
seeds, wrong on odd ones (or with no answer at all), so rejection sampling has both to sort."""

import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SAMPLE_SET = REPO / "data" / "problem_sets" / "sample"

# reference programs for the sample coding problems, by a phrase of their statement
RIGHT_CODE = {
    "Print their sum": "a, b = map(int, input().split())\nprint(a + b)\n",
    "print it reversed": "print(input()[::-1])\n",
    "is_palindrome": "def is_palindrome(s):\n    s = s.lower()\n    return s == s[::-1]\n",
    "Print the largest": "input()\nprint(max(map(int, input().split())))\n",
    "FizzBuzz": (
        "n = int(input())\nfor i in range(1, n + 1):\n"
        "    print('FizzBuzz' if i % 15 == 0 else 'Fizz' if i % 3 == 0 else 'Buzz' if i % 5 == 0 else i)\n"
    ),
    "count_vowels": "def count_vowels(s):\n    return sum(c in 'aeiouAEIOU' for c in s)\n",
    "Fibonacci": "n = int(input())\na, b = 0, 1\nfor _ in range(n):\n    a, b = b, a + b\nprint(a)\n",
    "twoSum": (
        "class Solution:\n    def twoSum(self, nums, target):\n        seen = {}\n"
        "        for i, x in enumerate(nums):\n            if target - x in seen:\n"
        "                return [seen[target - x], i]\n            seen[x] = i\n"
    ),
    "prime numbers": (
        "n = int(input())\nsieve = bytearray([1]) * (n + 1)\nsieve[0] = 0\nif n >= 1:\n    sieve[1] = 0\n"
        "i = 2\nwhile i * i <= n:\n    if sieve[i]:\n        sieve[i * i::i] = bytearray(len(sieve[i * i::i]))\n"
        "    i += 1\nprint(sum(sieve))\n"
    ),
    "longest_increasing_subsequence": (
        "import bisect\n\ndef longest_increasing_subsequence(nums):\n    tails = []\n    for x in nums:\n"
        "        i = bisect.bisect_left(tails, x)\n        if i == len(tails):\n            tails.append(x)\n"
        "        else:\n            tails[i] = x\n    return len(tails)\n"
    ),
}

WRONG_CODE = "print('I am not sure')\n"


def math_answers() -> dict[str, str]:
    from ragassets.reasoning.problems import load_problem_set

    load = load_problem_set(SAMPLE_SET, "sample")
    return {r["problem"]: r["reference_answer"] for r in load.problems.to_dicts() if r["domain"] == "math"}


def make_responder():
    answers = math_answers()

    def respond(body):
        user = next(m["content"] for m in reversed(body["messages"]) if m["role"] == "user")
        seed = body.get("seed") or 0
        if "Problem:" in user and "programming" not in user:
            problem = user.split("Problem:", 1)[1].strip()
            ref = answers.get(problem)
            if ref is None:
                return "I cannot solve this."
            if seed % 2 == 0:
                return f"Let me work it out step by step.\nTherefore, the answer is \\boxed{{{ref}}}."
            return "Let me think. The answer is 987654." if seed % 4 == 1 else "I am not sure how to finish."
        for phrase, code in RIGHT_CODE.items():
            if phrase in user:
                chosen = code if seed % 2 == 0 else WRONG_CODE
                return f"We reason step by step.\n```python\n{chosen}```"
        return "no idea"

    return respond


def sample_code_problems():
    rows = [json.loads(line) for line in (SAMPLE_SET / "apps.jsonl").read_text().splitlines()]
    return rows
