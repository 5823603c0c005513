"""`python -m ivrlog.delivery`: the dispatcher process of `ivrlog serve`."""

from ivrlog.delivery.runner import main

main()
