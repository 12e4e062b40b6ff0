"""A table printed aligned for the terminal and as markdown for perf/RESULTS.md."""

from __future__ import annotations


def print_table(rows: list[list[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))


def print_markdown(rows: list[list[str]]) -> None:
    print("| " + " | ".join(rows[0]) + " |")
    print("|" + "---|" * len(rows[0]))
    for row in rows[1:]:
        print("| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |")


def print_both(rows: list[list[str]]) -> None:
    """The table as text to read, then as Markdown to paste into perf/RESULTS.md."""
    print_table(rows)
    print("\nMarkdown:\n")
    print_markdown(rows)
