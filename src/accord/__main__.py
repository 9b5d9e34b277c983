"""Run the Accord command line: ``python -m accord``."""

from accord.cli import main

main()
