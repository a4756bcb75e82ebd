import sys

from peftlint.cli import main

sys.exit(main())
