from framesift.cli import main

main()
