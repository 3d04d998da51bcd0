"""``mu-eval`` with the fault-injecting plugin of ``faults.py`` registered: ``faulty_cli.py ARGS...``."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from faults import PLUGIN  # noqa: E402

import mu_registry.cli.main as cli  # noqa: E402
from mu_registry.registry.manager import Registry  # noqa: E402

cli._registry = lambda: Registry(extra_plugins=[("faults", PLUGIN)])
sys.exit(cli.main(sys.argv[1:]))
