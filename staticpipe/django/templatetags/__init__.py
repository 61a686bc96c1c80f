"""Template tag libraries of the ``staticpipe.django`` app (``{% load staticpipe %}``)."""
