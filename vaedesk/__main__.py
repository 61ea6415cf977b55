import sys

from vaedesk.cli import main

sys.exit(main())
