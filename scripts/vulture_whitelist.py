"""Names vulture cannot see used: called by a framework or library, or read by the tests as the rule they check.

`scripts/test` runs `vulture src/sovereel bench scripts/vulture_whitelist.py`; every name here says who uses it.
Declarative field lists (pydantic schemas and settings, ORM models, TypedDict payloads) are excluded there as
whole files, since their fields are read by the framework, never by name.
"""

# ruff: noqa: B018
from vulture.whitelist_utils import Whitelist

_ = Whitelist()

# ORM columns the actions set so the row records when and by what it changed (read by SQL and the audit views).
_.updated_at
_.decided_at
_.decision_action_id
# pydantic reads a model's model_config.
_.model_config
# uvicorn's Server reads should_exit to stop; faiss reads efSearch/efConstruction from the HNSW index it builds.
_.should_exit
_.efSearch
_.efConstruction
# prometheus_client calls a custom collector's collect(); torch calls forward() through Module.__call__.
_.collect
_.forward
# http-message-signatures calls its key resolver's two methods.
_.resolve_private_key
_.resolve_public_key
# uvicorn --factory names sovereel.api.asgi:app_from_env as a string (runtime/supervisor.py).
_.app_from_env
# uvicorn --http names the API processes' protocol class as a string (runtime/supervisor.py HTTP_PROTOCOL).
_.NoDelayH11Protocol
# The short forms of the fault benchmarks in tests/runtime/test_faults.py call these bench/services.py checks.
_.postgres_installed
_.can_mount_tmpfs
# The simulator counts its fits for the report it prints.
_.fits
# Alembic's autogenerate, used to check that the models and the migrations agree (tests/backends/test_storage.py).
_.autogenerate
# The auditor's side of the audit log: what a client runs on the proofs /api/audit serves (tests/governance).
_.verify_consistency
# A parameter file an operator writes is read with load_params (tests/feed/test_params.py, test_oversight.py).
_.load_params
# Who sees whose account, in Python: the rule the SQL form (`visible_accounts`) is held to in
# tests/security/test_account_visibility.py.
_.may_see_account
# The bus's subscription table read the other way round, used to check topics.py's consumers list.
_.subscribers
# Introspection the embedding table and item index offer their tests (admission counts, the HNSW path).
_.pending_count
_.uses_hnsw
# Not called yet: the embedding rows changed since the last drain, the sync that "For You at scale" (issue 13)
# publishes from the one learner to the serving processes. Tested in tests/feed/test_embedding_table.py.
_.drain_touched
# Whether a local bus client is attached to its hub: tests/backends/test_local_bus.py waits on it across a restart.
_.connected
# How many of a simulated policy's pages were ranked from carries: tests/foryou/test_simulator.py reads it.
_.carried_pages
