"""``python -m tests.fake_tws``: the standalone fake gateway (see :mod:`.runner`)."""

from .runner import main

raise SystemExit(main())
