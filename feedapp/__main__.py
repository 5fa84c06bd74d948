from feedapp.cli import main

raise SystemExit(main())
