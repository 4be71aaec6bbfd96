import sys

from edgepose.cli import main

sys.exit(main())
