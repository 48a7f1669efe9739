import sys

from flowsql.cli import main

sys.exit(main())
