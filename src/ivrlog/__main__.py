from ivrlog.cli import main

main()
