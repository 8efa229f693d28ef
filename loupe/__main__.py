from loupe.cli import main

main()
