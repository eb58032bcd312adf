import sys

from nomad_muse.training.lmms.cli import main

sys.exit(main())
