"""The report a bench run writes keeps every section it does not measure (bench/report.py)."""

from bench import report

PREVIOUS = """# Performance

Written by an earlier run.

## Machine

old machine

## By hand, after the machine

kept one

### Its subsection

kept two

## Targets

old targets

## Warm endpoint under load

old load

### 1,000 models

old table

## By hand, at the end

kept three
"""


def test_a_run_replaces_its_sections_and_keeps_the_others_in_place():
    generated = (
        "# Performance\n\nWritten by this run.\n\n## Machine\n\nnew machine\n\n"
        "## Targets\n\nnew targets\n\n## Warm endpoint under load\n\nnew load\n"
    )

    assert report.merged(PREVIOUS, generated) == (
        "# Performance\n\nWritten by this run.\n\n## Machine\n\nnew machine\n\n"
        "## By hand, after the machine\n\nkept one\n\n### Its subsection\n\nkept two\n\n"
        "## Targets\n\nnew targets\n\n## Warm endpoint under load\n\nnew load\n\n"
        "## By hand, at the end\n\nkept three\n"
    )


def test_a_new_section_comes_before_the_next_one_written_and_an_unknown_one_stays():
    generated = (
        "# Performance\n\nNew.\n\n## Machine\n\nm\n\n## Data\n\nnew data\n\n"
        "## Targets\n\nt\n\n## Warm endpoint under load\n\nw\n\n## Worker memory\n\nmem\n"
    )

    result = report.merged(PREVIOUS, generated)

    headings = [line for line in result.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Machine",
        "## By hand, after the machine",
        "## Data",
        "## Targets",
        "## Warm endpoint under load",
        "## By hand, at the end",
        "## Worker memory",
    ]


def test_a_run_of_one_section_keeps_the_preamble_and_the_rest():
    section = report.LOOKUP_TITLE + "\n\nfirst lookup\n"
    once = report.merged(PREVIOUS, section)
    again = report.merged(once, report.LOOKUP_TITLE + "\n\nsecond lookup\n")

    assert once == PREVIOUS.rstrip() + "\n\n" + section
    assert again == PREVIOUS.rstrip() + "\n\n" + report.LOOKUP_TITLE + "\n\nsecond lookup\n"


def test_the_first_report_is_the_generated_text():
    generated = "# Performance\n\nNew.\n\n## Machine\n\nm\n"

    assert report.merged("", generated) == generated


def test_the_load_section_names_the_rounds_of_the_target_size_and_of_the_others():
    settings = {"connections": 4, "duration": 2.0, "rounds": 6, "target_size": 1000}
    results = {"settings": settings, "machine": {"load client": "wrk"}, "sizes": {}}

    both = report.load_section(results | {"settings": settings | {"other_rounds": 2}})
    same = report.load_section(results)  # a run from before other sizes had rounds of their own

    assert "6 rounds at 1,000 models (the size the targets judge), 2 at the others," in both[2]
    assert "2 s per run, 6 rounds per server and encoding" in same[2]
