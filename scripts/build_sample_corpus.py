"""Write the binary files of the bundled sample corpus (the PDF and the Word file).

The text files of data/corpora/sample/ are written by hand; this script makes the two binary ones
from text kept here, so they can be reviewed and rebuilt. Needs `pip install fpdf2` (not a runtime
dependency). Run from the repository root: python scripts/build_sample_corpus.py
"""

from __future__ import annotations

from pathlib import Path

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "corpora" / "sample"

REPORT_TITLE = "Germination Report 2023"
REPORT_PARAGRAPHS = [
    ("This report summarises the germination tests run by the Tidewater Seed Library between "
    "March and October 2023. In total 148 lots were tested, 9 more than in 2022."),
    ("Of the 148 lots, 131 germinated at 70% or better and went on the shelves. The 17 lots below the "
    "threshold were withdrawn; 11 of them were peppers stored in the warm corner of the old cabinet."),
    ("The median germination rate was 89%. Beans did best, with a median of 95%, and parsnips worst, "
    "with a median of 61%, which matches their short storage life."),
    ("The cabinet was replaced in November 2023 by a refrigerator kept at 7 degrees Celsius. The "
    "testing was coordinated by Dr. Samuel Reyes, who can be reached at s.reyes@tidewater-seeds.org "
    "or on 555-402-7781."),
    ("Recommendation: test pepper lots every year instead of every second year, and move parsnip seed "
    "to a one-year lending cycle."),
]

MINUTES_TITLE = "Board Meeting Minutes, 12 January 2024"


def build_pdf(path: Path) -> None:
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_title(REPORT_TITLE)
    pdf.set_author("Tidewater Seed Library")
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, REPORT_TITLE, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    for para in REPORT_PARAGRAPHS:
        pdf.multi_cell(0, 6, para)
        pdf.ln(3)
    pdf.output(str(path))


def build_docx(path: Path) -> None:
    import docx

    doc = docx.Document()
    doc.core_properties.title = MINUTES_TITLE
    doc.core_properties.author = "Tidewater Seed Library"
    doc.add_heading(MINUTES_TITLE, level=1)
    doc.add_paragraph(
        "Present: Margaret Ellison (chair), Thomas Whitfield (treasurer), Priya Raman, Daniel Okafor. "
        "Apologies: Helen Marsh."
    )
    doc.add_heading("Budget", level=2)
    doc.add_paragraph(
        "The treasurer reported a balance of 2,340 dollars at the end of 2023. The council grant of "
        "1,500 dollars was renewed for 2024."
    )
    table = doc.add_table(rows=4, cols=3)
    for row, cells in zip(
        table.rows,
        [("Item", "2023 spend", "2024 budget"), ("Envelopes and labels", "310", "350"),
         ("Refrigerator", "640", "0"), ("Silica gel", "85", "90")],
    ):
        for cell, value in zip(row.cells, cells):
            cell.text = value
    doc.add_heading("Decisions", level=2)
    doc.add_paragraph(
        "The board agreed to open on Wednesday evenings from April, to limit rare varieties to 2 packets "
        "per member, and to ask the council for a second room in the ferry office."
    )
    doc.add_paragraph(
        "The next meeting is on 8 March 2024. Agenda items go to the chair at "
        "m.ellison@tidewater-seeds.org by 1 March."
    )
    doc.save(str(path))


if __name__ == "__main__":
    build_pdf(SAMPLE / "germination-report.pdf")
    build_docx(SAMPLE / "board-minutes.docx")
    print(f"wrote {SAMPLE / 'germination-report.pdf'} and {SAMPLE / 'board-minutes.docx'}")
