"""The period summary as a page for managers (issue 16 part 4): pure rendering, no HTTP, no SQL."""

from services.scoring.summary_page.page import render_summary_page

__all__ = ["render_summary_page"]
