"""``doit publish``: the current build of static_root to S3-compatible storage.

The core is pure (``build`` reads static_root, ``etag`` hashes a file as S3
does, ``headers`` names its HTTP headers, ``plan`` compares a build with a
listing, ``history`` decides what old builds' files go); ``s3`` is the only
module that talks to the store (boto3, the ``staticpipe[s3]`` extra), and
``run`` is the algorithm top to bottom.
"""
