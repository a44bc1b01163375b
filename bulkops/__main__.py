from bulkops.cli import main

raise SystemExit(main())
