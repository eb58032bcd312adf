from nomad_muse.app.cli import main

main()
