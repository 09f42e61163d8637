"""`python -m strigil …`: the same command line as the installed `strigil` script."""

from strigil.cli import main

if __name__ == "__main__":
    main()
