import sys

from neurohop.cli import main

sys.exit(main())
