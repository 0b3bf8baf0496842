"""``python -m labelscout`` runs the command line."""
from .cli import main

main()
