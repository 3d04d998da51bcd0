import sys

from mu_registry.cli.main import main

sys.exit(main())
