from staticpipe.tasks import *  # noqa: F403
