from framesift.app.cli import main

main()
