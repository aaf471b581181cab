import sys

from mixfit.cli.commands import main

sys.exit(main())
