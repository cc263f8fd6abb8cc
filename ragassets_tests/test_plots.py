"""ragassets.plots: PNG figures as Markdown data URIs."""

from __future__ import annotations

import base64
import io
import math
import re
from pathlib import Path

import pytest
from PIL import Image

from ragassets.plots import bar_markdown, curve_markdown, figure_markdown, histogram_markdown, new_figure

DATA_URI = re.compile(r"!\[([^\]]*)\]\(data:image/png;base64,([A-Za-z0-9+/=]+)\)")


def _image(md: str) -> Image.Image:
    m = DATA_URI.search(md)
    assert m, md[:100]
    return Image.open(io.BytesIO(base64.b64decode(m.group(2))))


def test_histogram_is_a_real_png_with_caption():
    md = histogram_markdown([0.1, 0.5, 0.9, math.nan], title="Judge [scores]", threshold=0.6)
    img = _image(md)
    assert img.format == "PNG" and img.size[0] > 200 and img.size[1] > 100
    assert DATA_URI.search(md).group(1) == "Judge (scores)"  # brackets would break the Markdown
    assert md.endswith("n = 3, 1 non-finite value(s) left out")


def test_empty_histogram_still_renders():
    assert _image(histogram_markdown([], title="nothing")).format == "PNG"


def test_histograms_of_values_that_are_all_equal_render():
    # cosines of paraphrases that are all copies: equal to the last float bit (seen on docx-samples)
    import numpy as np

    from ragassets.defs.paraphrases.checks import fidelity_histogram

    same = np.array([0.99999994, 1.0, 0.99999994, 1.0000001], dtype=np.float32)
    assert _image(histogram_markdown(list(same), title="copies")).format == "PNG"
    assert _image(fidelity_histogram(same, (0.6, 0.995))).format == "PNG"


def test_curves_and_bars():
    md = curve_markdown(
        [1, 5, 10],
        {"flat": [0.5, 0.8, 0.9], "hnsw": [0.4, 0.7, None]},
        title="recall@k",
        xlabel="k",
        ylabel="recall",
        ylim=(0, 1),
    )
    assert _image(md).format == "PNG"
    with pytest.raises(ValueError, match="series 'a' has 2 points but x has 3"):
        curve_markdown([1, 2, 3], {"a": [1, 2]}, title="t", xlabel="x", ylabel="y")
    with pytest.raises(ValueError, match="at least one series"):
        curve_markdown([1], {}, title="t", xlabel="x", ylabel="y")
    assert (
        _image(
            bar_markdown(
                ["chunks", "questions"],
                {"input": [100, 300], "output": [20, 80]},
                title="tokens",
                ylabel="tokens",
            )
        ).format
        == "PNG"
    )
    with pytest.raises(ValueError, match="2 labels"):
        bar_markdown(["a", "b"], [1], title="t", ylabel="y")


def test_large_figures_are_shrunk_to_the_size_limit():
    import numpy as np

    fig = new_figure((8, 6))
    ax = fig.add_subplot()
    rng = np.random.default_rng(0)
    ax.imshow(rng.random((400, 400)))  # noise does not compress
    md = figure_markdown(fig, "noise", dpi=200)
    assert len(base64.b64decode(DATA_URI.search(md).group(2))) <= 150_000


def test_plots_import_neither_pyplot_nor_dagster():
    from ragassets import plots

    source = Path(plots.__file__).read_text().splitlines()
    imports = [line for line in source if line.startswith(("import", "from"))]
    assert imports and not [line for line in imports if "pyplot" in line or "dagster" in line]


def test_metadata_wrappers_give_markdown_values():
    import dagster as dg

    from ragassets.metadata import bar_metadata, curve_metadata, histogram_metadata

    for value in (
        histogram_metadata([0.2, 0.9], title="scores", threshold=0.5),
        curve_metadata(range(3), {"train": [3.0, 2.0, 1.5]}, title="loss", xlabel="step", ylabel="loss"),
        bar_metadata(["a"], [5], title="tokens", ylabel="tokens"),
    ):
        assert isinstance(value, dg.MarkdownMetadataValue)
        assert _image(value.value).format == "PNG"
