"""Storage: versions, training sets, the project registry and job records.

File implementations live here; Redis ones in ``labelloop.store.redis_*``.
"""
