"""`python -m declstack`."""

from declstack.cli import main

main()
