from nomad_muse.training.classifier_data.cli import main

raise SystemExit(main())
