from advdl.commands.main import main

main()
