from zoo.training.cli import main

main()
