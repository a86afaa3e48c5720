"""The sub-commands of `hallwatch`, by what they are for; console/cli.py gathers them."""
