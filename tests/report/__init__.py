"""Browser test of the HTML report built by tools/build_report.py (`make report`)."""
